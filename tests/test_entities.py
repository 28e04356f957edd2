"""Entity extraction: tables of cases for the rules and the lookup tables."""
from __future__ import annotations


import pytest

from aisle.config import REPO_ROOT
from text_tools.entities import extract
from text_tools.lookups import LookupTables, Lookups, load_static, search_tables, tables_from_products

STATIC = load_static(REPO_ROOT / "data" / "nlu" / "lookups")


def found(text: str, tables: LookupTables | None = STATIC) -> list[tuple[str, object, str]]:
    """(entity, value, the exact text at start:end) for each entity."""
    return [(e["entity"], e["value"], text[e["start"]:e["end"]]) for e in extract(text, tables)]


def only(text: str, *entities: str) -> list[tuple[str, object, str]]:
    return [f for f in found(text) if f[0] in entities]


@pytest.mark.parametrize("text, expected", [
    ("waterproof hiking boots under $100", [("price_max", 100, "$100")]),
    ("less than 50 dollars", [("price_max", 50, "50 dollars")]),
    ("up to £75", [("price_max", 75, "£75")]),
    ("no more than 49.99", [("price_max", 49.99, "49.99")]),
    ("between 20 and 40", [("price_min", 20, "20"), ("price_max", 40, "40")]),
    ("bluetooth speakers between $30 and $60", [("price_min", 30, "$30"), ("price_max", 60, "$60")]),
    ("$20-$40 please", [("price_min", 20, "$20"), ("price_max", 40, "$40")]),
    ("from $1,200 to $1,500", [("price_min", 1200, "$1,200"), ("price_max", 1500, "$1,500")]),
    ("over $150", [("price_min", 150, "$150")]),
    ("$80 or more", [("price_min", 80, "$80")]),
    ("around 100 dollars", [("price_max", 120, "100 dollars"), ("price_min", 80, "100 dollars")]),
    ("about $2k", [("price_max", 2400, "$2k"), ("price_min", 1600, "$2k")]),
    ("a $50 gift", [("price_max", 50, "$50")]),
    ("tents for 4 people", []),
    ("a 32 inch monitor", []),
    ("from 2019", []),
    ("it has 16gb of ram", []),
])
def test_prices(text, expected):
    assert only(text, "price_min", "price_max") == expected


@pytest.mark.parametrize("text, expected", [
    ("where is my order 10482?", [("order_id", "10482", "10482")]),
    ("order #55120 please", [("order_id", "55120", "55120")]),
    ("order number: 0042117", [("order_id", "0042117", "0042117")]),
    ("it's 77731", [("order_id", "77731", "77731")]),
    ("#24680 status?", [("order_id", "24680", "24680")]),
    ("under $25000", []),
    ("size 10 shoes", []),
])
def test_order_ids(text, expected):
    assert only(text, "order_id") == expected


@pytest.mark.parametrize("text, expected", [
    ("I'll take two of those", [("quantity", 2, "two")]),
    ("add 3 of the third one", [("quantity", 3, "3")]),
    ("I want a pair of running shoes", [("quantity", 2, "a pair of")]),
    ("qty: 12", [("quantity", 12, "12")]),
    ("add x4", [("quantity", 4, "4")]),
    ("buy 5", [("quantity", 5, "5")]),
    ("add it to my cart", []),
    ("add the 2nd one", []),
])
def test_quantities(text, expected):
    assert only(text, "quantity") == expected


@pytest.mark.parametrize("text, expected", [
    ("is the second one waterproof?", [("ordinal", 2, "second")]),
    ("the last one", [("ordinal", -1, "last")]),
    ("second to last please", [("ordinal", -2, "second to last")]),
    ("tell me about the 3rd", [("ordinal", 3, "3rd")]),
    ("item 4 please", [("ordinal", 4, "4")]),
    ("compare the first two", [("ordinal", 1, "first two"), ("ordinal", 2, "first two")]),
    ("the top one", [("ordinal", 1, "top")]),
    ("I'm a first time hiker", []),
    ("one second please", []),
    ("top rated products", []),
])
def test_ordinals(text, expected):
    assert only(text, "ordinal") == expected


@pytest.mark.parametrize("text, expected", [
    ("my email is Sam.Lee@Mail.com", [("email", "sam.lee@mail.com", "Sam.Lee@Mail.com")]),
    ("order 12345 for anna_k+shop@example.co.uk", [("order_id", "12345", "12345"),
                                                   ("email", "anna_k+shop@example.co.uk", "anna_k+shop@example.co.uk")]),
    ("email 55123@numbers.com", [("email", "55123@numbers.com", "55123@numbers.com")]),
])
def test_emails_win_over_numbers_inside_them(text, expected):
    assert only(text, "email", "order_id") == expected


@pytest.mark.parametrize("text, expected", [
    ("black sneakers size 10", [("color", "black", "black"), ("product_type", "sneaker", "sneakers"),
                                ("size", "10", "10")]),
    ("gray wool sweater in XL", [("color", "grey", "gray"), ("material", "wool", "wool"),
                                 ("product_type", "sweater", "sweater"), ("size", "XL", "XL")]),
    ("a queen bed sheet", [("size", "queen", "queen"), ("product_type", "bed sheet", "bed sheet")]),
    ("faux leather jackets", [("material", "vegan leather", "faux leather"), ("product_type", "jacket", "jackets")]),
    ("a large bag", [("product_type", "bag", "bag")]),
    ("do you have it in large", [("size", "large", "large")]),
    ("large ones in navy", [("size", "large", "large"), ("color", "navy", "navy")]),
    ("I'm looking for dresses", [("product_type", "dress", "dresses")]),
])
def test_lookup_entities_are_normalised(text, expected):
    assert found(text) == expected


def test_the_search_reads_its_own_synonyms_the_nlu_does_not():
    text = "wool jumpers or a rucksack"
    assert found(text, search_tables()) == [("material", "wool", "wool"), ("product_type", "sweater", "jumpers"),
                                            ("product_type", "backpack", "rucksack")]
    assert found(text) == [("material", "wool", "wool")]  # the NLU's tables: its training data is unchanged


def test_catalog_terms_are_merged_without_retraining():
    class FakeCatalog:  # stands in for the products table read by CatalogLookups
        tables_now = LookupTables()

        def tables(self) -> LookupTables:
            return self.tables_now

    catalog = FakeCatalog()
    lookups = Lookups(STATIC, catalog)  # type: ignore[arg-type]
    assert found("anything from Zephyrix?", lookups()) == []
    fresh = LookupTables()
    fresh.add("brand", "Zephyrix", "Zephyrix")
    catalog.tables_now = fresh
    assert found("anything from zephyrix?", lookups()) == [("brand", "Zephyrix", "zephyrix")]


def test_positions_index_the_original_text():
    text = "  Add TWO of the Second one, under $30!  "
    assert [(e["entity"], e["start"], e["end"]) for e in extract(text, STATIC)] == [
        ("quantity", 6, 9), ("ordinal", 17, 23), ("price_max", 35, 38),
    ]


@pytest.mark.parametrize("text, excluded, kept", [
    ("headphones but not from Sonora", {("brand", "Sonora")}, set()),
    ("a rug, anything but grey", {("color", "grey")}, set()),
    ("black boots without leather", {("material", "leather")}, {("color", "black")}),
    ("no more than $50 for a black kettle", set(), {("color", "black")}),
    ("no, show me red ones", set(), {("color", "red")}),
    ("sneakers but no leather or suede, I'm vegan", {("material", "leather"), ("material", "suede")}, set()),
    ("not from sonora or in grey please", {("brand", "Sonora"), ("color", "grey")}, set()),
    ("no leather and in black", {("material", "leather")}, {("color", "black")}),
    ("a jumper, i hate wool", {("material", "wool")}, set()),
    ("allergic to leather, in black", {("material", "leather")}, {("color", "black")}),
    ("i hate my black boots, need new ones", set(), {("color", "black")}),
])
def test_negated_values_get_the_excluded_role(text, excluded, kept):
    tables = STATIC.merged(LookupTables({"brand": {"sonora": "Sonora"}}))
    ents = extract(text, tables)
    assert {(e["entity"], e["value"]) for e in ents if e.get("role") == "excluded"} == excluded
    assert kept <= {(e["entity"], e["value"]) for e in ents if "role" not in e}


def test_a_size_named_before_its_measure_is_found_by_its_name():
    tables = STATIC.merged(tables_from_products([("Packwell", "Bags & Travel > Suitcases", {"size": "cabin 55 cm"}),
                                                 ("Packwell", "Bags & Travel > Suitcases", {"size": "70 x 50 cm"})]))
    assert ("size", "cabin", "cabin") in found("just cabin size ones", tables)
    assert ("size", "cabin 55 cm", "cabin 55 cm") in found("the cabin 55 cm one", tables)
