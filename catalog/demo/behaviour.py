"""Demo customers, orders and shopping behaviour over the demo catalog (seeded, reproducible).

DEMO DATA: fictional people with ``@example.com`` addresses. The structure is what a recommender
needs to find: personas with category affinities (a home barista, a hiker, a remote worker...),
items bought together (a coffee maker with a grinder, a tent with a sleeping bag: each product has a
fixed partner in the complementary subcategory, same brand when there is one), repeat purchases of
consumables, seasonal categories (tents in summer, duvets and sweaters in winter, games in December)
and a long tail of popularity. Orders exist in every state, relative to ``now``: placed, packed,
shipped (carrier, tracking, expected date), delivered, cancelled and returned.

Two well-known demo shoppers make the order dialogue easy to try (docs/dialogue.md lists their orders):
alex.morgan@example.com (orders 10001-10005, shipping to postcode 94107) and sam.lee@example.com
(order 10006, postcode 02139). Every order ships to its customer's postcode (``demo_postcode``).
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from aisle.models import (Customer, Interaction, InteractionKind, Order, OrderLine, OrderStatus, Product,
                          ReturnRequest, ReturnStatus)
from catalog.documents import category_leaf

SEED = 7
CUSTOMERS = 500
DAYS = 365
FIRST_ORDER_NUMBER = 10100
ALEX, SAM = "alex.morgan@example.com", "sam.lee@example.com"
# Fixed by ../shared/contracts/interfaces.md (alex's) and docs/dialogue.md: the second factor to try the dialogue.
WELL_KNOWN_POSTCODES = {ALEX: "94107", SAM: "02139"}

PERSONAS: dict[str, dict[str, float]] = {
    "home barista": {"Coffee Makers": 3, "Coffee Grinders": 3, "Kettles": 2, "Blenders": 0.5, "Candles": 0.5},
    "home cook": {"Frying Pans": 3, "Kitchen Knives": 3, "Saucepans": 3, "Blenders": 2, "Kettles": 1},
    "runner": {"Running Shoes": 4, "Earbuds": 2, "Yoga Mats": 2, "T-Shirts": 1, "Sneakers": 1},
    "hiker": {"Hiking Boots": 3, "Tents": 3, "Sleeping Bags": 3, "Backpacks": 2, "Jackets": 1.5},
    "remote worker": {"Laptops": 2, "Monitors": 2, "Keyboards & Mice": 3, "Desks": 2, "Office Chairs": 2,
                      "Headphones": 1.5},
    "home maker": {"Lamps": 2, "Rugs": 2, "Candles": 3, "Coffee Tables": 1.5, "Bed Sheets": 2, "Towels": 2,
                   "Duvets": 1.5},
    "traveller": {"Suitcases": 3, "Backpacks": 2, "Wallets": 2, "E-readers": 2, "Earbuds": 1.5},
    "pet owner": {"Dog Beds": 4, "Cat Trees": 3, "Candles": 1, "Towels": 1},
    "parent": {"Board Games": 3, "Puzzles": 3, "Science Kits": 3, "Tablets": 1.5, "Phone Cases": 1},
    "fashion fan": {"Dresses": 3, "Sweaters": 2, "Jackets": 2, "Sneakers": 2, "T-Shirts": 2, "Moisturisers": 1,
                    "Shampoo": 1},
    "audiophile": {"Headphones": 4, "Speakers": 3, "Earbuds": 3, "Phone Cases": 1, "Tablets": 1},
}
COMPLEMENTS: dict[str, str] = {
    "Coffee Makers": "Coffee Grinders", "Coffee Grinders": "Coffee Makers", "Kettles": "Coffee Grinders",
    "Laptops": "Keyboards & Mice", "Monitors": "Keyboards & Mice", "Desks": "Office Chairs",
    "Office Chairs": "Desks", "Tents": "Sleeping Bags", "Sleeping Bags": "Tents", "Hiking Boots": "Backpacks",
    "Frying Pans": "Kitchen Knives", "Saucepans": "Frying Pans", "Kitchen Knives": "Frying Pans",
    "Bed Sheets": "Duvets", "Duvets": "Bed Sheets", "Towels": "Bed Sheets", "Suitcases": "Wallets",
    "Running Shoes": "Earbuds", "Board Games": "Puzzles", "Puzzles": "Board Games", "Lamps": "Rugs",
    "Shampoo": "Moisturisers", "Tablets": "Phone Cases", "Dog Beds": "Cat Trees",
}
CONSUMABLES = {"Candles", "Shampoo", "Moisturisers"}
SEASONAL = {  # subcategory → months (1-12) when it sells three times as well
    "Tents": {5, 6, 7, 8}, "Sleeping Bags": {5, 6, 7, 8}, "Yoga Mats": {1, 2},
    "Duvets": {10, 11, 12, 1}, "Sweaters": {10, 11, 12, 1, 2}, "Jackets": {10, 11, 12, 1},
    "Board Games": {11, 12}, "Puzzles": {11, 12}, "Science Kits": {11, 12}, "Candles": {11, 12},
}
FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Robin",
         "Charlie", "Emerson", "Harper", "Kai", "Logan", "Parker", "Reese", "Skyler", "Rowan", "Sage", "Dana", "Eli")
LAST = ("Morgan", "Lee", "Patel", "Garcia", "Kim", "Nguyen", "Smith", "Okafor", "Rossi", "Jensen", "Silva",
        "Cohen", "Novak", "Haddad", "Tanaka", "Murphy", "Larsen", "Dubois", "Kowalski", "Moreau")
CARRIERS = ("UPS", "FedEx", "USPS")


@dataclass
class DemoCustomer:
    email: str
    name: str
    persona: str


def demo_postcode(email: str) -> str:
    """A demo customer's US ZIP code: fixed for the well-known shoppers, else derived from the email
    (not from the seeded random stream, so adding postcodes left every other demo value unchanged)."""
    return WELL_KNOWN_POSTCODES.get(email) or f"{10000 + zlib.crc32(email.encode()) % 89999:05d}"


@dataclass
class DemoOrder:
    number: str
    email: str
    placed_at: datetime
    skus: list[str]
    status: str = "delivered"
    carrier: str | None = None
    tracking_number: str | None = None
    expected_delivery: date | None = None
    delivered_at: datetime | None = None


@dataclass
class DemoEvent:
    email: str
    sku: str
    kind: str  # view | like | cart | purchase
    at: datetime


@dataclass
class Simulation:
    customers: list[DemoCustomer] = field(default_factory=list)
    orders: list[DemoOrder] = field(default_factory=list)
    events: list[DemoEvent] = field(default_factory=list)


class Shop:
    """The catalog as the simulation sees it: products by subcategory, popularity, fixed partners."""

    def __init__(self, products: list[dict[str, Any]], rng: random.Random) -> None:
        self.by_sub: dict[str, list[dict[str, Any]]] = {}
        for p in sorted(products, key=lambda p: p["sku"]):
            self.by_sub.setdefault(category_leaf(p["category"]), []).append(p)
        # A long tail: a few items sell far more than the rest, more so when well rated.
        self.appeal = {p["sku"]: rng.lognormvariate(0, 1.0) * (p.get("rating") or 3.5) ** 2 for p in products}
        self.partner: dict[str, str] = {}
        for sub, items in self.by_sub.items():
            partners = self.by_sub.get(COMPLEMENTS.get(sub, ""), [])
            for i, p in enumerate(items):
                if partners:
                    same_brand = [q for q in partners if q.get("brand") == p.get("brand")]
                    pool = same_brand or partners
                    self.partner[p["sku"]] = pool[i % len(pool)]["sku"]

    def pick(self, rng: random.Random, sub: str, k: int) -> list[dict[str, Any]]:
        items = self.by_sub.get(sub, [])
        if not items:
            return []
        weights = [self.appeal[p["sku"]] for p in items]
        chosen: list[dict[str, Any]] = []
        for _ in range(min(k, len(items))):
            p = rng.choices(items, weights)[0]
            if p not in chosen:
                chosen.append(p)
        return chosen


def order_state(order: DemoOrder, now: datetime, rng: random.Random) -> None:
    """Status, carrier, tracking and dates from the order's age."""
    age = (now - order.placed_at).total_seconds() / 86400
    if age < 0.5:
        order.status = "placed"
    elif age < 1.5:
        order.status = "packed"
    else:
        order.carrier = rng.choice(CARRIERS)
        order.tracking_number = f"{order.carrier[:2].upper()}{rng.randrange(10**11, 10**12)}"
        transit = rng.randint(3, 6)
        order.expected_delivery = (order.placed_at + timedelta(days=transit)).date()
        if age < transit:
            order.status = "shipped"
        else:
            order.status = "delivered"
            order.delivered_at = order.placed_at + timedelta(days=transit, hours=rng.randint(8, 18))


def simulate(products: list[dict[str, Any]], now: datetime, seed: int = SEED,
             customers: int = CUSTOMERS) -> Simulation:
    rng = random.Random(seed)
    shop = Shop(products, rng)
    sim = Simulation()
    number = FIRST_ORDER_NUMBER
    personas = sorted(PERSONAS)
    for i in range(customers):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        email = f"{first}.{last}{i}@example.com".lower()
        persona = personas[i % len(personas)]
        second = rng.choice(personas) if rng.random() < 0.3 else None
        sim.customers.append(DemoCustomer(email, f"{first} {last}", persona + (f", {second}" if second else "")))
        affinity = dict(PERSONAS[persona])
        for sub, w in (PERSONAS[second].items() if second else ()):
            affinity[sub] = affinity.get(sub, 0) + 0.5 * w
        activity = max(2, int(rng.gammavariate(2.0, 8.0)))
        for _ in range(activity):
            when = now - timedelta(days=rng.uniform(0, DAYS))
            month_weights = [w * (3 if when.month in SEASONAL.get(sub, ()) else 1) for sub, w in affinity.items()]
            sub = rng.choices(list(affinity), month_weights)[0]
            viewed = shop.pick(rng, sub, rng.randint(2, 6))
            for n, p in enumerate(viewed):
                sim.events.append(DemoEvent(email, p["sku"], "view", when + timedelta(minutes=n)))
            if not viewed:
                continue
            if rng.random() < 0.2:
                sim.events.append(DemoEvent(email, viewed[0]["sku"], "like", when + timedelta(minutes=7)))
            if rng.random() > 0.45:
                continue
            chosen = viewed[0]
            sim.events.append(DemoEvent(email, chosen["sku"], "cart", when + timedelta(minutes=8)))
            if rng.random() > 0.65:
                continue
            skus = [chosen["sku"]]
            if chosen["sku"] in shop.partner and rng.random() < 0.45:
                skus.append(shop.partner[chosen["sku"]])
            order = DemoOrder(str(number), email, when + timedelta(minutes=10), skus)
            number += 1
            sim.orders.append(order)
            for sku in skus:
                sim.events.append(DemoEvent(email, sku, "purchase", order.placed_at))
            if sub in CONSUMABLES and rng.random() < 0.4:
                again = order.placed_at + timedelta(days=rng.uniform(30, 90))
                if again < now:
                    repeat = DemoOrder(str(number), email, again, [chosen["sku"]])
                    number += 1
                    sim.orders.append(repeat)
                    sim.events.append(DemoEvent(email, chosen["sku"], "purchase", again))
    for order in sim.orders:
        order_state(order, now, rng)
        roll = rng.random()
        if order.status in ("placed", "packed") and roll < 0.08:
            order.status = "cancelled"
        elif order.status == "delivered" and roll < 0.04:
            order.status = "returned"
    sim.events.sort(key=lambda e: e.at)
    return sim


def well_known_orders(products: list[dict[str, Any]], now: datetime) -> tuple[list[DemoCustomer], list[DemoOrder]]:
    """Alex's and Sam's orders, one per interesting state, for trying the order dialogue."""
    by_sub: dict[str, list[str]] = {}
    for p in sorted(products, key=lambda p: p["sku"]):
        if (p.get("stock") or 0) > 0:
            by_sub.setdefault(category_leaf(p["category"]), []).append(p["sku"])

    everything = [sku for skus in by_sub.values() for sku in skus]

    def first(sub: str, n: int = 0) -> str:  # a smaller catalog may lack the subcategory: any product then
        pool = by_sub.get(sub) or everything
        return pool[(n + len(sub)) % len(pool)] if sub not in by_sub else pool[n % len(pool)]

    alex, sam = ALEX, SAM
    day = timedelta(days=1)
    orders = [
        DemoOrder("10001", alex, now - 2 * day, [first("Coffee Makers")], "shipped", "UPS", "1Z999AA10123456784",
                  (now + 3 * day).date()),
        DemoOrder("10002", alex, now - 14 * day, [first("Kettles"), first("Coffee Grinders")], "delivered", "FedEx",
                  "7489 2231 0091", (now - 10 * day).date(), now - 10 * day),
        DemoOrder("10003", alex, now - timedelta(hours=3), [first("Candles"), first("Candles", 1)], "placed"),
        DemoOrder("10004", alex, now - 50 * day, [first("Rugs")], "delivered", "USPS", "9400 1000 0000 0000 0001",
                  (now - 46 * day).date(), now - 46 * day),
        DemoOrder("10005", alex, now - 20 * day, [first("Lamps")], "cancelled"),
        DemoOrder("10006", sam, now - 1 * day, [first("Headphones")], "packed"),
    ]
    people = [DemoCustomer(alex, "Alex Morgan", "home barista"), DemoCustomer(sam, "Sam Lee", "audiophile")]
    return people, orders


def seed_database(sessions: sessionmaker[Session], now: datetime | None = None, seed: int = SEED) -> int:
    """Write the demo customers, orders, returns and interactions, if there are no customers yet.
    Returns the number of orders written (0 when the database already had customers)."""
    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    with sessions() as s:
        if s.scalar(select(func.count(Customer.id))):
            return 0
        rows = s.scalars(select(Product)).all()
        if not rows:
            raise RuntimeError("no products: import the catalog first (python -m catalog seed-demo)")
        products = [{"sku": p.sku, "category": p.category, "brand": p.brand, "rating": p.rating, "stock": p.stock,
                     "price": float(p.price)} for p in rows]
        ids = {p.sku: p.id for p in rows}
        price = {p.sku: p.price for p in rows}
        sim = simulate(products, now, seed)
        people, special = well_known_orders(products, now)
        customers = {c.email: Customer(email=c.email, name=c.name, persona=c.persona)
                     for c in people + sim.customers}
        s.add_all(customers.values())
        s.flush()
        for o in special + sim.orders:
            lines = [OrderLine(product_id=ids[sku], quantity=1, unit_price=price[sku]) for sku in o.skus]
            order = Order(number=o.number, customer_id=customers[o.email].id, status=OrderStatus(o.status),
                          placed_at=o.placed_at, carrier=o.carrier, tracking_number=o.tracking_number,
                          expected_delivery=o.expected_delivery, delivered_at=o.delivered_at,
                          shipping_postcode=demo_postcode(o.email), total=sum((line.unit_price for line in lines), Decimal("0")), lines=lines)
            s.add(order)
            if o.status == "returned":
                s.flush()
                s.add(ReturnRequest(number=f"R-{o.number}", order_id=order.id, skus=list(o.skus),
                                    reason="did not suit", resolution="refund", status=ReturnStatus.refunded))
        s.add_all(Interaction(customer_id=customers[e.email].id, product_id=ids[e.sku],
                              kind=InteractionKind(e.kind), created_at=e.at) for e in sim.events)
        s.commit()
        return len(special) + len(sim.orders)


def backfill_postcodes(sessions: sessionmaker[Session]) -> int:
    """Give demo orders seeded before orders had postcodes their customer's postcode; returns how many."""
    with sessions() as s:
        rows = s.execute(select(Order, Customer.email).join(Customer).where(
            Order.shipping_postcode.is_(None), Customer.email.like("%@example.com"))).all()
        for order, email in rows:
            order.shipping_postcode = demo_postcode(email)
        s.commit()
        return len(rows)
