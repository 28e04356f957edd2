"""Shopify order and fulfillment webhook deliveries for tests: payloads with Shopify's published field
names (REST Admin API Order / Fulfillment), signed as Shopify signs them."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from bot.shopify_webhook import signature

WEBHOOK_SECRET = "shopify-webhook-secret-for-tests-only"


def order(order_id: int, name: str, email: str, zip_code: str = "94107", **changes: Any) -> dict[str, Any]:
    """An orders/create payload: two items, one the test catalog has (KET-100), one it does not."""
    payload = {
        "id": order_id, "name": name, "order_number": 1001, "email": email,
        "created_at": "2026-11-28T10:15:00-05:00", "processed_at": "2026-11-28T10:15:00-05:00",
        "currency": "USD", "total_price": "54.98", "financial_status": "paid", "fulfillment_status": None,
        "cancelled_at": None, "customer": {"id": 7001, "email": email, "first_name": "Robin", "last_name": "Hale"},
        "shipping_address": {"name": "Robin Hale", "zip": zip_code, "country_code": "US"},
        "line_items": [
            {"id": 1, "variant_id": 44001, "sku": "KET-100", "title": "Stainless Steel Electric Kettle 1.7 L",
             "quantity": 1, "price": "39.99"},
            {"id": 2, "variant_id": 44999, "sku": "GIFT-WRAP", "title": "Gift wrapping", "quantity": 1,
             "price": "14.99"},
        ],
        "fulfillments": [],
    }
    payload.update(changes)
    return payload


def fulfillment(order_id: int, shipment_status: str | None = "in_transit") -> dict[str, Any]:
    return {"id": 9001, "order_id": order_id, "status": "success", "tracking_company": "USPS",
            "tracking_number": "9400 1000 0000 0000 0000 00", "tracking_numbers": ["9400 1000 0000 0000 0000 00"],
            "shipment_status": shipment_status, "created_at": "2026-11-29T09:00:00Z",
            "updated_at": "2026-11-29T09:00:00Z", "line_items": []}


def delivery(topic: str, payload: Any, secret: str = WEBHOOK_SECRET, delivery_id: str | None = None,
             triggered_at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery; ``payload`` bytes are sent as they are."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {
        "Content-Type": "application/json", "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature(secret, body), "X-Shopify-Shop-Domain": "aisle-test.myshopify.com",
        "X-Shopify-Webhook-Id": delivery_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": (triggered_at or datetime.now(timezone.utc)).isoformat(),
    }
