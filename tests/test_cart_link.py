"""The store's cart link template (aisle/cart_link.py) and how the cart actions hand the cart over."""
from __future__ import annotations

from decimal import Decimal

import pytest

from actions import catalog_client
from actions.cart import present
from aisle import config, migrate
from aisle.cart_link import CartItem, CartLinkTemplate
from aisle.config import ConfigError, Settings
from catalog.cart import CartLine, CartSummary

SHOPIFY = "https://shop.example.com/cart/{variant_id}:{quantity}"
WOO = "https://shop.example.com/?add-to-cart={variant_id}&quantity={quantity}"


@pytest.fixture(autouse=True)
def empty_shop(tmp_path, monkeypatch):
    """present() looks up the lines' pictures and pages: a migrated, empty database of this test's own
    (not whatever ./var holds when the suite gets here)."""
    monkeypatch.setenv("AISLE_DATA_DIR", str(tmp_path))
    config.settings.cache_clear()
    catalog_client.engine.cache_clear()
    migrate.upgrade(config.settings().database_url)
    yield
    config.settings.cache_clear()
    catalog_client.engine.cache_clear()


def line(sku: str, quantity: int, variant: str | None) -> CartLine:
    return CartLine(sku, f"Item {sku}", quantity, Decimal("10.00"), "USD", variant)


def test_shopify_permalink_carries_every_item():
    link = CartLinkTemplate.parse(SHOPIFY + "?storefront=true", ",")
    url = link.render([CartItem("A", "4401", 2), CartItem("B", "4402", 1)])
    assert url == "https://shop.example.com/cart/4401:2,4402:1?storefront=true"


def test_woocommerce_link_takes_one_item_so_a_bigger_cart_gets_a_link_per_item():
    link = CartLinkTemplate.parse(WOO)
    assert link.render([CartItem("A", "101", 3)]) == "https://shop.example.com/?add-to-cart=101&quantity=3"
    assert link.render([CartItem("A", "101", 3), CartItem("B", "102", 1)]) is None
    assert link.render_each(CartItem("B", "102", 1)) == "https://shop.example.com/?add-to-cart=102&quantity=1"


def test_values_are_url_encoded_and_a_missing_variant_id_gives_no_link():
    link = CartLinkTemplate.parse("https://shop.example.com/add?sku={sku}&qty={quantity}")
    assert link.render([CartItem("A&B/1", None, 1)]) == "https://shop.example.com/add?sku=A%26B%2F1&qty=1"
    assert CartLinkTemplate.parse(SHOPIFY, ",").render([CartItem("A", None, 1)]) is None
    assert CartLinkTemplate.parse(SHOPIFY, ",").render([]) is None


@pytest.mark.parametrize("template, join, problem", [
    ("shop.example.com/cart/{variant_id}", None, "http(s) URL"),
    ("javascript:alert(1)//{sku}", None, "http(s) URL"),
    ("https://shop.example.com/cart/{id}:{quantity}", None, "placeholders"),
    ("https://shop.example.com/cart/{variant_id!r}", None, "placeholders"),
    ("https://shop.example.com/cart/{quantity}", None, "{variant_id} or {sku}"),
    ("https://shop.example.com/cart/{variant_id", None, "unbalanced"),
    (SHOPIFY, "{", "AISLE_CART_LINK_JOIN"),
])
def test_a_bad_template_stops_start_up_with_a_clear_error(template, join, problem):
    env = {"AISLE_CART_LINK_TEMPLATE": template, **({"AISLE_CART_LINK_JOIN": join} if join else {})}
    with pytest.raises(ConfigError, match="AISLE_CART_LINK_TEMPLATE") as raised:
        Settings.from_env(env)
    assert problem in str(raised.value)


def test_without_a_template_the_cart_is_aisles_own():
    assert Settings.from_env({}).cart_link is None
    text, payload = present(CartSummary([line("A", 1, "4401")]), None)
    assert "checkout_url" not in payload and "checkout" not in text.lower()


def test_the_cart_card_and_text_carry_the_checkout_link():
    cart = CartSummary([line("A", 2, "4401"), line("B", 1, "4402")])
    text, payload = present(cart, Settings.from_env({"AISLE_CART_LINK_TEMPLATE": SHOPIFY,
                                                     "AISLE_CART_LINK_JOIN": ","}).cart_link)
    assert payload["checkout_url"] == "https://shop.example.com/cart/4401:2,4402:1"
    assert "Go to checkout: https://shop.example.com/cart/4401:2,4402:1" in text
    text, payload = present(cart, CartLinkTemplate.parse(WOO))
    assert "checkout_url" not in payload
    assert [i["checkout_url"] for i in payload["items"]] == [
        "https://shop.example.com/?add-to-cart=4401&quantity=2", "https://shop.example.com/?add-to-cart=4402&quantity=1"]
    assert "one by one" in text


def test_an_item_without_the_stores_id_is_logged_and_the_cart_is_not_handed_over(caplog):
    text, payload = present(CartSummary([line("A", 1, "4401"), line("B", 1, None)]),
                            CartLinkTemplate.parse(SHOPIFY, ","))
    assert "checkout_url" not in payload and "no store variant id for B: the cart stays in Aisle" in caplog.text


def test_a_store_whose_link_carries_the_whole_cart_gets_no_per_item_links():
    # A Shopify permalink replaces the store's cart: one item's link would drop the others.
    text, payload = present(CartSummary([line("A", 1, "4401"), line("B", 1, None)]),
                            CartLinkTemplate.parse(SHOPIFY, ","))
    assert "checkout_url" not in payload and not any("checkout_url" in i for i in payload["items"])
    assert "one by one" not in text
