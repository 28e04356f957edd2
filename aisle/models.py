"""The relational schema shared by the catalog, orders, knowledge base and recommender.

Changes here need an Alembic revision in aisle/migrations (``python -m aisle revision -m "..."``).
Rasa's own ``events`` table (tracker store) lives in the same database but is Rasa's, not ours.
"""
from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Product(Timestamped, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(200), index=True)
    brand: Mapped[str | None] = mapped_column(String(120), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    rating: Mapped[float | None]
    rating_count: Mapped[int | None]
    stock: Mapped[int] = mapped_column(default=0)
    image_url: Mapped[str | None] = mapped_column(String(1000))
    images: Mapped[list[str]] = mapped_column(default=list)  # further pictures, after image_url
    url: Mapped[str | None] = mapped_column(String(1000))  # the product's page in the shop
    # Variants of one model (a Shopify handle, a WooCommerce parent, a Merchant Center item_group_id)
    # share this key, so results can show one card per model.
    group_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # The store's own id for this variant (Shopify variant id, WooCommerce product/variation ID): what
    # its cart links take (AISLE_CART_LINK_TEMPLATE's {variant_id}).
    variant_id: Mapped[str | None] = mapped_column(String(64))


class Customer(Timestamped, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    persona: Mapped[str | None] = mapped_column(String(200))

    orders: Mapped[list["Order"]] = relationship(back_populates="customer")


class OrderStatus(str, enum.Enum):
    placed = "placed"
    packed = "packed"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    returned = "returned"


class Order(Timestamped, Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=16), default=OrderStatus.placed
    )
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    expected_delivery: Mapped[date | None]
    delivered_at: Mapped[datetime | None]
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    # The second factor for an order's details and changes: only the customer knows where it ships.
    shipping_postcode: Mapped[str | None] = mapped_column(String(16))
    # "aisle" (Aisle's own orders, the demo) or the store it came from by webhook ("shopify"), whose
    # own id for it (fulfillment webhooks name the order by it) is external_id.
    source: Mapped[str] = mapped_column(String(16), default="aisle", server_default="aisle")
    external_id: Mapped[str | None] = mapped_column(String(64), index=True)
    store_updated_at: Mapped[datetime | None]  # the store's updated_at of what this row holds

    customer: Mapped[Customer] = relationship(back_populates="orders")
    returns: Mapped[list["ReturnRequest"]] = relationship(back_populates="order", order_by="ReturnRequest.id")
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # None for an item of a store order that the catalog does not have: sku and title say what it was.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    sku: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()

    @property
    def item_sku(self) -> str:
        return self.product.sku if self.product is not None else self.sku or ""

    @property
    def item_title(self) -> str:
        return self.product.title if self.product is not None else self.title or self.sku or "item"


class FaqStatus(str, enum.Enum):
    draft = "draft"
    published = "published"
    archived = "archived"


class FaqEntry(Timestamped, Base):
    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(String(500))
    alternatives: Mapped[list[str]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), index=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[FaqStatus] = mapped_column(
        Enum(FaqStatus, native_enum=False, length=16), default=FaqStatus.draft, index=True
    )
    version: Mapped[int] = mapped_column(default=1)


class FaqVersion(Base):
    """Every saved state of an entry: who changed it, when, and the whole entry as it was."""

    __tablename__ = "faq_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    snapshot: Mapped[dict[str, Any]]
    author: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqFeedback(Base):
    """A shopper's "did this help?" answer to one FAQ answer."""

    __tablename__ = "faq_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    helpful: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqMiss(Base):
    """A shopper question the knowledge base had no confident answer for."""

    __tablename__ = "faq_misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    best_entry_id: Mapped[int | None] = mapped_column(ForeignKey("faq_entries.id", ondelete="SET NULL"))
    confidence: Mapped[float]
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InteractionKind(str, enum.Enum):
    view = "view"
    like = "like"
    cart = "cart"
    purchase = "purchase"


class Interaction(Base):
    """A shopper's event on a product: the recommender's collaborative signal."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_product_kind", "product_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[InteractionKind] = mapped_column(Enum(InteractionKind, native_enum=False, length=16))
    quantity: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)



class WebhookDelivery(Base):
    """A store webhook delivery already taken: the same delivery id again is a replay."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(128), unique=True)
    topic: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Cart(Timestamped, Base):
    """One shopping cart per conversation."""

    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    items: Mapped[list["CartItem"]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartItem.id"
    )


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("cart_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()


class ConversationMode(str, enum.Enum):
    bot = "bot"  # the assistant answers
    waiting = "waiting"  # handed off, in the queue for a person
    agent = "agent"  # a person is answering; the bot stays silent


class Conversation(Base):
    """One shopper conversation; its id is also Rasa's sender id. Holds the handoff state."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), default="web")
    mode: Mapped[ConversationMode] = mapped_column(
        Enum(ConversationMode, native_enum=False, length=16), default=ConversationMode.bot, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    handoff_requested_at: Mapped[datetime | None]
    agent_joined_at: Mapped[datetime | None]
    agent: Mapped[str | None] = mapped_column(String(120))
    # Rasa tracker events up to this id are already folded into the transcript.
    rasa_event_id: Mapped[int] = mapped_column(default=0)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None]  # the shopper pressed "end chat": never resumed again


class Author(str, enum.Enum):
    shopper = "shopper"
    bot = "bot"
    agent = "agent"
    system = "system"


class Message(Base):
    """A transcript line: what was shown, and for shopper lines what the bot understood and did."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[Author] = mapped_column(Enum(Author, native_enum=False, length=16))
    text: Mapped[str] = mapped_column(Text, default="")
    # The text with personal data masked, lower case: what the agent console's search looks in.
    search_text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # buttons, product cards, notices
    client_id: Mapped[str | None] = mapped_column(String(64))  # the widget's id, for resend dedupe
    nlu: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # intent, confidence, ranking, entities
    turn: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # actions run and slots set
    agent: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Role(str, enum.Enum):
    admin = "admin"  # everything, including the knowledge base and accounts
    agent = "agent"  # transcripts and live conversations; cannot change the knowledge base


class User(Timestamped, Base):
    """A console account (admins and support agents; shoppers have no accounts here)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    # What shoppers see when this person joins a chat; never the login (it would help guess logins).
    display_name: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """Server-side console sessions: the cookie holds only the random key, so logout really ends it."""

    __tablename__ = "console_sessions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiKey(Base):
    """A chat API key for one integration (another channel calling POST /api/messages). Only the
    SHA-256 of the key is stored; the key itself is shown once, when an admin creates it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to tell keys apart
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Every change made in the consoles: who, what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConversationTag(Base):
    __tablename__ = "conversation_tags"
    __table_args__ = (UniqueConstraint("conversation_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(40), index=True)


class ConversationNote(Base):
    """An agent's note on a conversation (review remarks, follow-ups)."""

    __tablename__ = "conversation_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageCorrection(Base):
    """What a shopper message really meant, per an agent: NLU training data in waiting."""

    __tablename__ = "message_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(64))
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    merged_at: Mapped[datetime | None]


class CannedReply(Timestamped, Base):
    """A prepared answer that agents insert into a live chat by its shortcut ("/returns"); admins keep them."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(40), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))


class ReturnStatus(str, enum.Enum):
    requested = "requested"  # label sent, waiting for the parcel
    received = "received"  # in the warehouse, being checked
    refunded = "refunded"
    exchanged = "exchanged"  # replacement shipped


class ReturnRequest(Timestamped, Base):
    """A shopper's return of items from one order, for a refund or an exchange."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    skus: Mapped[list[str]]
    reason: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str] = mapped_column(String(16))  # refund | exchange
    status: Mapped[ReturnStatus] = mapped_column(
        Enum(ReturnStatus, native_enum=False, length=16), default=ReturnStatus.requested
    )
    conversation_id: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="returns")


class VerificationFailure(Base):
    """A wrong order number / email / postcode: counted per caller (conversation, client address) to
    slow guessing down, and per order and email to ask for every factor once they are under attack."""

    __tablename__ = "verification_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    order_number: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True, default="")
    client: Mapped[str | None] = mapped_column(String(64), index=True)  # the shopper's address, from the web app
    factor: Mapped[str] = mapped_column(String(16), default="email")  # which factor was wrong: email | postcode
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
