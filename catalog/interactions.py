"""What shoppers do with products in chat, written to ``interactions`` for the recommender.

Views (a product's details shown), cart additions and purchases carry the conversation and, once the
shopper proved an email in it, the customer. Events written before the proof are attributed to the
customer when it comes, so a conversation's history counts for the person it turned out to be.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import Customer, Interaction, InteractionKind, Product, utcnow


@dataclass(frozen=True)
class Seen:
    sku: str
    quantity: int = 1


def customer_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    return session.scalar(select(Customer.id).where(func.lower(Customer.email) == email.strip().lower()))


def record(factory: sessionmaker[Session], kind: InteractionKind, items: list[Seen], conversation_id: str | None,
           email: str | None = None, at: datetime | None = None) -> int:
    """Write one interaction per known sku (unknown skus are skipped); returns how many were written."""
    skus = [item.sku for item in items]
    if not skus:
        return 0
    with factory.begin() as session:
        ids: dict[str, int] = {sku: pid for sku, pid in session.execute(
            select(Product.sku, Product.id).where(Product.sku.in_(skus)))}
        customer = customer_id(session, email)
        rows = [Interaction(customer_id=customer, conversation_id=conversation_id, product_id=ids[item.sku],
                            kind=kind, quantity=item.quantity, created_at=at or utcnow())
                for item in items if item.sku in ids]
        session.add_all(rows)
        return len(rows)


def attribute(factory: sessionmaker[Session], conversation_id: str, email: str) -> int:
    """Give the conversation's anonymous interactions to the customer who proved ``email`` in it."""
    with factory.begin() as session:
        customer = customer_id(session, email)
        if customer is None:
            return 0
        result = session.execute(update(Interaction).where(Interaction.conversation_id == conversation_id,
                                                           Interaction.customer_id.is_(None))
                                 .values(customer_id=customer))
        return result.rowcount or 0
