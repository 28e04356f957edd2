"""Orders as the actions see them (catalog/orders.py over the app database); one instance per process."""
from __future__ import annotations

from functools import lru_cache

from aisle.db import session_factory
from catalog.orders import Access, Caller, Orders, OrderView, ReturnView


@lru_cache(maxsize=1)
def orders() -> Orders:
    return Orders(session_factory())


def verified(number: str, email: str) -> OrderView | None:
    return orders().verified(number, email) if number and email else None


def lookup(number: str, email: str, postcode: str | None, caller: Caller, want_full: bool) -> Access:
    return orders().lookup(number, email, postcode, caller, want_full)


def caller_wait(caller: Caller) -> int:
    return orders().caller_wait(caller)


def cancel(number: str, email: str) -> OrderView:
    return orders().cancel(number, email)


def create_return(number: str, email: str, skus: list[str], reason: str, resolution: str,
                  conversation_id: str) -> ReturnView:
    return orders().create_return(number, email, skus, reason, resolution, conversation_id)
