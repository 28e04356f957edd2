"""A cart per conversation, stored in the database, with quantities checked against stock."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from aisle.models import Cart, CartItem, Product

MAX_QUANTITY = 99


class CartError(ValueError):
    """A request the cart cannot honour; the message is fit to show the shopper."""


@dataclass(frozen=True)
class CartLine:
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    currency: str
    variant_id: str | None = None  # the store's id, for its cart link

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class CartSummary:
    lines: list[CartLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))

    @property
    def items(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def currency(self) -> str:
        return self.lines[0].currency if self.lines else "USD"


def _load(session: Session, conversation_id: str) -> Cart | None:
    return session.scalars(
        select(Cart).where(Cart.conversation_id == conversation_id)
        .options(selectinload(Cart.items).selectinload(CartItem.product))
    ).one_or_none()


def _summary(cart: Cart | None) -> CartSummary:
    if cart is None:
        return CartSummary()
    return CartSummary([CartLine(i.product.sku, i.product.title, i.quantity, i.product.price, i.product.currency,
                                 i.product.variant_id) for i in cart.items])


def add(factory: sessionmaker[Session], conversation_id: str, sku: str, quantity: int = 1,
        replace: bool = False) -> CartSummary:
    """Add ``quantity`` of a product; ``replace``: make its quantity that many ("make that 3")."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise CartError(f"I can add between 1 and {MAX_QUANTITY} of an item at a time.")
    with factory.begin() as session:
        product = session.scalars(select(Product).where(Product.sku == sku)).one_or_none()
        if product is None:
            raise CartError(f"I couldn't find a product with the code {sku}.")
        cart = _load(session, conversation_id)
        if cart is None:
            cart = Cart(conversation_id=conversation_id)
            session.add(cart)
        item = next((i for i in cart.items if i.product_id == product.id), None)
        wanted = quantity + (item.quantity if item and not replace else 0)
        if product.stock <= 0:
            raise CartError(f"Sorry, the {product.title} is out of stock right now.")
        if wanted > product.stock:
            raise CartError(f"Only {product.stock} of the {product.title} are in stock"
                            + (f" and {item.quantity} are already in your cart." if item and not replace else "."))
        if item:
            item.quantity = wanted
        else:
            cart.items.append(CartItem(product=product, quantity=quantity))
        session.flush()
        return _summary(cart)


def remove(factory: sessionmaker[Session], conversation_id: str, sku: str) -> CartSummary:
    """Take a product out of the cart, whatever its quantity."""
    with factory.begin() as session:
        cart = _load(session, conversation_id)
        item = next((i for i in cart.items if i.product.sku == sku), None) if cart else None
        if cart is None or item is None:
            raise CartError("That isn't in your cart.")
        cart.items.remove(item)
        session.flush()
        return _summary(cart)


def summary(factory: sessionmaker[Session], conversation_id: str) -> CartSummary:
    with factory() as session:
        return _summary(_load(session, conversation_id))
