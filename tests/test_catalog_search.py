"""Hybrid search on a small fixture catalog: filters, fusion, relaxation, typos, persistence."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from aisle import migrate
from aisle.config import Settings
from aisle.db import session_factory
from aisle.models import Product
from catalog.__main__ import main as catalog_cli
from catalog.importer import upsert
from catalog.index import DenseIndex
from catalog.records import validate_file
from catalog.documents import ProductView
from catalog.search import (SHOWN_WITHIN, AttributeLexicon, CatalogSearch, Constraints, Weights, audience,
                            category_affinity, child_age, combine_scores, has_material, material_modifiers,
                            variant_labels)
from text_tools.encoder import encode

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_small.jsonl"


class CountingEncoder:
    def __init__(self) -> None:
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return encode(texts)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("catalog")
    s = Settings.from_env({"AISLE_DATA_DIR": str(folder)})
    migrate.upgrade(s.database_url)
    upsert(session_factory(s.database_url), validate_file(FIXTURE).records)
    return s


@pytest.fixture(scope="module")
def engine(settings) -> CatalogSearch:
    search = CatalogSearch(settings)
    search.refresh()
    return search


def skus(response) -> list[str]:
    return [item["sku"] for item in response.items]


def test_price_and_type_are_filters_not_just_text(engine):
    response = engine.search("waterproof hiking boots under $100")
    assert skus(response) == ["HB-601"]
    assert response.constraints.price_max == 100 and response.constraints.category == "hiking boot"


def test_look_alike_products_stay_out(engine):
    assert set(skus(engine.search("coffee maker"))) == {"CM-200", "CM-201"}
    assert skus(engine.search("coffee table"))[0] == "CT-400"
    assert skus(engine.search("something to grind coffee beans"))[0] == "CG-300"


def test_colour_size_brand_and_stock(engine):
    assert skus(engine.search("black running shoes")) == ["RS-501"]
    assert skus(engine.search("running shoes size 11")) == ["RS-500"]
    assert set(skus(engine.search("Kaffeo"))) == {"KET-102", "CM-200", "CG-300"}
    in_stock = engine.search("kettle in stock")
    assert "KET-101" not in skus(in_stock) and in_stock.constraints.in_stock


def test_zero_results_relax_and_say_what(engine):
    response = engine.search("red kettle")
    assert response.relaxed == ["colors"]
    assert set(skus(response)) == {"KET-100", "KET-101", "KET-102"}
    strict = engine.search("black running shoes size 11")
    assert strict.relaxed == ["colors"] and skus(strict) == ["RS-500"]


def test_typos_are_tolerated(engine):
    assert engine.search("headphnes").items[0]["category"] == "Electronics > Headphones"
    assert engine.search("electrik ketle").items[0]["sku"].startswith("KET")


def test_conversation_constraints_combine_with_the_query(engine):
    response = engine.search("kettle", context=Constraints(price_max=50))
    assert set(skus(response)) == {"KET-100", "KET-101"}
    merged = Constraints(price_max=50, colors=("black",)).merged(Constraints(colors=("silver",)))
    assert (merged.price_max, merged.colors) == (50, ("silver",))
    # a new bound past the old opposite one replaces it; one within it narrows the range
    assert Constraints(price_max=50).merged(Constraints(price_min=100)).price_max is None
    assert Constraints(price_min=100).merged(Constraints(price_max=40)).price_min is None
    narrowed = Constraints(price_max=50).merged(Constraints(price_min=30))
    assert (narrowed.price_min, narrowed.price_max) == (30, 50)


def test_paging_with_offset(engine):
    first = skus(engine.search("kettle", limit=2))
    second = skus(engine.search("kettle", limit=2, offset=2))
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)


def test_scores_add_lexical_evidence_and_category_affinity():
    categories = {1: "A", 2: "B", 3: "B", 4: "A"}
    dense = [(1, 0.60), (2, 0.59), (3, 0.58), (4, 0.20)]
    plain = combine_scores(dense, [], categories.get, Weights(lexical=0, category=0, soft=0))
    assert sorted(plain, key=lambda k: -plain[k]) == [1, 2, 3, 4]
    # Both products of B match well, A's second does not: B's products outrank A's single best match.
    grouped = combine_scores(dense, [], categories.get, Weights(lexical=0, category=1.0, soft=0))
    assert sorted(grouped, key=lambda k: -grouped[k])[:2] == [2, 3]
    assert category_affinity(dense, categories.get) == pytest.approx({"A": 0.40, "B": 0.585})
    # A lexical-only hit starts from the lowest dense similarity and adds its normalised BM25.
    lexical = combine_scores(dense[:2], [(4, 8.0), (2, 4.0)], categories.get, Weights(lexical=1.0, category=0, soft=0))
    assert lexical == pytest.approx({1: 0.60, 2: 1.09, 4: 1.59})


def test_a_word_that_is_a_catalog_value_filters_only_when_the_query_is_about_such_products(engine):
    # "down" is no material of what a dog walker wants: it must not filter everything away.
    response = engine.search("my dog pulls me down the street every morning")
    assert len(response.items) > 1 and "materials" not in response.constraints.as_dict()
    assert engine.search("black running shoes").constraints.colors == ("black",)


def test_a_material_filters_only_when_written_as_the_kind_of_product(engine):
    # "leather hiking boots": leather ones are what is asked for. Elsewhere in the message a material only
    # lifts the products that have it; the other hiking boots stay on the list, after it.
    response = engine.search("leather hiking boots")
    assert skus(response) == ["HB-600"] and response.constraints.materials == ("leather",)
    response = engine.search("hiking boots, ideally leather")
    assert skus(response)[:2] == ["HB-600", "HB-601"] and not response.constraints.materials


def test_material_modifiers_are_materials_right_before_the_product_type():
    found = [{"entity": "material", "value": "cast iron", "start": 2, "end": 11},
             {"entity": "color", "value": "blue", "start": 12, "end": 16}]
    assert material_modifiers("a cast iron blue pan", found, {"pan"}) == ("cast iron",)
    assert material_modifiers("a cast iron blue thing", found, {"pan"}) == ()
    assert material_modifiers("a cast iron blue one", found, set()) == ("cast iron",)
    typed = [{"entity": "material", "value": "wool", "start": 0, "end": 4},
             {"entity": "product_type", "value": "rug", "start": 5, "end": 9}]
    assert material_modifiers("wool rugs", typed, set()) == ("wool",)
    later = [typed[0], {**typed[1], "start": 12, "end": 16}]
    assert material_modifiers("wool for my rugs", later, set()) == ()


def test_a_product_type_named_as_context_is_not_a_filter(engine):
    # The shopper wants something for the headphones, not headphones: "headphones" after "my" is context.
    assert engine.search("something to hang my headphones on").constraints.category is None
    assert engine.search("headphones for the gym").constraints.category == "headphone"
    assert engine.search("ok, back to the kettles - got black ones?").constraints.category == "kettle"


@pytest.mark.parametrize("query, excluded", [
    ("kettle but not from Kaffeo", lambda item: item["brand"] == "Kaffeo"),
    ("running shoes, anything but black", lambda item: item["sku"] == "RS-501"),
])
def test_negation_excludes(engine, query, excluded):
    items = engine.search(query).items
    assert items and not any(excluded(i) for i in items)


def test_no_x_at_all_excludes_x_only(engine):
    stated = engine.parse("no leather at all please")[0]
    assert stated.exclude_materials == ("leather",) and stated.exclude_terms == ()


def test_index_persists_and_updates_incrementally(settings, engine):
    counter = CountingEncoder()
    reloaded = CatalogSearch(settings, encode=counter)
    reloaded.refresh()
    assert len(reloaded.dense) == 15 and counter.texts == 0  # loaded from disk, nothing re-embedded
    with session_factory(settings.database_url).begin() as session:
        product = session.scalars(select(Product).where(Product.sku == "YM-900")).one()
        product.title = "Non-Slip Travel Yoga Mat 4 mm"
    counter.texts = 0
    reloaded.refresh()
    assert counter.texts == 2  # the probe and the one changed product
    assert reloaded.search("travel yoga mat").items[0]["title"] == "Non-Slip Travel Yoga Mat 4 mm"


def test_similar_takes_the_product_vector_from_the_index(settings, engine):
    counter = CountingEncoder()
    reloaded = CatalogSearch(settings, encode=counter)
    reloaded.refresh()
    counter.texts = 0
    sku = next(iter(engine.by_sku))
    assert skus(reloaded.similar(sku)) == skus(engine.similar(sku))
    assert counter.texts == 0  # the product was embedded when it was indexed
    source = reloaded.by_sku[sku]
    # int8 activations are scaled per batch, so a product embedded alone differs slightly from its indexed,
    # batched vector; still the same product.
    assert float(reloaded.dense.vector(source.id) @ encode([source.embedding_text()])[0]) >= 0.98


def test_dense_index_made_by_another_encoder_is_rebuilt(engine, tmp_path):
    views = list(engine.views.values())
    counter = CountingEncoder()
    DenseIndex(tmp_path, encoder_id="minilm-l6-v2 fp32").sync(views, counter)
    (tmp_path / "dense.encoder").unlink()  # as written before the encoder was recorded (torch ≈ fp32)
    for encoder_id, embedded in (("minilm-l6-v2 fp32", 0), ("minilm-l6-v2 int8", len(views) + 1),
                                 ("minilm-l6-v2 int8", 0)):
        index = DenseIndex(tmp_path, encoder_id=encoder_id)
        index.load()
        counter.texts = 0
        index.sync(views, counter)
        assert counter.texts == embedded, encoder_id  # + 1: the dimension probe of a new index
        assert len(index) == len(views)


def test_cli_search_json_and_batch(settings, tmp_path, monkeypatch, capsys):
    from aisle import config

    monkeypatch.setenv("AISLE_DATA_DIR", str(settings.data_dir))
    config.settings.cache_clear()
    try:
        assert catalog_cli(["search", "coffee maker", "--limit", "2", "--json"]) == 0
        results = json.loads(capsys.readouterr().out)
        assert [r["sku"] for r in results] and {"sku", "title", "price", "score"} <= results[0].keys()
        queries = tmp_path / "q.jsonl"
        queries.write_text('{"qid": "a", "query": "kettle"}\n{"qid": 7, "query": "yoga mat"}\n')
        assert catalog_cli(["search", "--queries", str(queries), "--limit", "3", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [line["qid"] for line in lines] == ["a", 7]
        assert lines[1]["results"][0]["sku"] == "YM-900"
    finally:
        config.settings.cache_clear()


def test_dense_index_switches_to_ivf_above_the_threshold(tmp_path, monkeypatch):
    import faiss

    from catalog import index as index_module
    from catalog.documents import ProductView
    from catalog.index import DenseIndex

    monkeypatch.setattr(index_module, "APPROXIMATE_ABOVE", 40)
    rng = np.random.default_rng(3)
    base = rng.normal(size=(8, 16)).astype(np.float32)

    def fake_encode(texts):  # deterministic 16-d vectors: clusters by the text's first letter
        v = np.stack([base[ord(t[0]) % 8] + rng.normal(0, 0.01, 16) for t in texts]).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    views = [ProductView(i, f"S{i}", f"{chr(97 + i % 8)} item {i}", "d", "C > D", None, 1.0, "USD", {}, (),
                         None, None, 1, None) for i in range(1, 61)]
    dense = DenseIndex(tmp_path)
    dense.sync(views[:30], fake_encode)
    assert isinstance(dense.index, faiss.IndexIDMap2)
    dense.sync(views, fake_encode)
    assert isinstance(dense.index, faiss.IndexIVF) and len(dense) == 60
    hits = dense.search(fake_encode(["c query"])[0], 5)
    assert hits and all(views[i - 1].title.startswith("c") for i, _ in hits)
    dense.sync(views[:50], fake_encode)  # products left the catalog: removed from the IVF index too
    assert len(dense) == 50 and all(i <= 50 for i, _ in dense.search(fake_encode(["c query"])[0], 20))


def test_lexical_search_gives_up_past_its_budget(tmp_path):
    from catalog.index import LexicalIndex, fts_search

    lexical = LexicalIndex(tmp_path)
    with lexical.conn:
        lexical.conn.executemany("INSERT INTO docs (rowid, title, brand, category, tags, attributes, description) "
                                 "VALUES (?, ?, '', '', '', '', 'a kettle for tea')",
                                 [(i, f"kettle model {i}") for i in range(1, 5001)])
    assert len(fts_search(lexical.conn, ["kettle", "tea"], 50, budget_ms=1000)) == 50
    assert fts_search(lexical.conn, ["kettle", "tea"], 50, budget_ms=0) == []
    assert fts_search(lexical.conn, ["model"], 10, budget_ms=1000)  # the handler was removed again


def test_one_result_per_model_with_its_variants_as_choices(engine):
    # RS-500 and RS-501 are one model (same title) in blue and black.
    plain = skus(engine.search("running shoes", limit=5))
    assert {"RS-500", "RS-501"} <= set(plain)
    grouped = engine.search("running shoes", limit=5, one_per_model=True)
    assert len({"RS-500", "RS-501"} & set(skus(grouped))) == 1
    item = next(i for i in grouped.items if i["sku"] in ("RS-500", "RS-501"))
    assert [(v["sku"], v["label"]) for v in item["variants"]] == [("RS-500", "Blue"), ("RS-501", "Black")]
    assert all(not i["variants"] for i in grouped.items if i is not item)  # models of one product: no choices
    in_black = engine.search("running shoes in black", limit=5, one_per_model=True)
    assert "RS-501" in skus(in_black) and "RS-500" not in skus(in_black)  # the variant that matches


def test_negating_the_kind_asked_for_excludes_its_modifier_and_doesnt_use_is_a_negation(engine):
    assert set(skus(engine.search("kettles, but not glass kettles"))) == {"KET-100", "KET-102"}
    assert skus(engine.search("a coffee maker that doesn't use pods")) == ["CM-200"]


def test_a_type_the_catalog_calls_otherwise_is_searched_by_the_catalogs_name(engine):
    parsed = engine.understand("a rucksack for my laptop")  # "rucksack" is a synonym of backpack
    assert parsed.constraints.category == "backpack" and "backpack" in parsed.dense_text.split()
    assert skus(engine.search("rucksacks", limit=1)) == ["BP-800"]
    compound = engine.understand("hiking boot socks")  # the head of a compound is the type asked for
    assert "hiking boot" in compound.dense_text and compound.constraints.category != "hiking boot"


def test_a_shoppers_page_leaves_out_what_falls_far_behind_the_best_hit(engine):
    everything = engine.search("something to grind coffee beans", limit=10)
    assert len(everything.items) > 3  # coffee makers, a table, kettles... fill a page without ``within``
    page = engine.search("something to grind coffee beans", limit=10, within=SHOWN_WITHIN)
    best = everything.items[0]["score"]
    assert skus(page) == [i["sku"] for i in everything.items if i["score"] >= best - SHOWN_WITHIN]
    assert skus(page)[0] == "CG-300" and page.total == len(page.items) < len(everything.items)
    assert skus(engine.search("kettle", within=SHOWN_WITHIN)) == skus(engine.search("kettle"))  # one kind: all


def test_folding_variants_brings_no_other_kind_of_product_onto_the_page(engine):
    ids = [engine.by_sku[sku].id for sku in ("RS-500", "RS-501", "HB-600", "KET-100")]
    hits = [(i, 1.0 - n / 10) for n, i in enumerate(ids)]
    assert [i for i, _ in engine._one_per_model(hits, window=2)] == [ids[0]]  # only shoes were on that page
    assert [i for i, _ in engine._one_per_model(hits, window=4)] == [ids[0], ids[2], ids[3]]


def test_variant_labels_name_what_differs():
    def view(sku, title, **attributes):
        return ProductView(id=0, sku=sku, title=title, description="", category="Shoes", brand=None, price=1.0,
                           currency="USD", attributes=attributes, tags=(), rating=None, rating_count=None,
                           stock=1, image_url=None)

    assert variant_labels([view("A", "Tee, S", color="red", size="S"), view("B", "Tee, M", color="red", size="M")]) \
        == ["Size S", "Size M"]
    assert variant_labels([view("A", "Tee", color="red", size="S"), view("B", "Tee", color="blue", size="M")]) \
        == ["Red / S", "Blue / M"]
    assert variant_labels([view("A", "Mug, Large"), view("B", "Mug, Small")]) == ["Large", "Small"]


@pytest.mark.parametrize("query, wanted", [
    ("mens wool sweaters", {"audiences": ("men",), "exclude_audiences": ("women",)}),
    ("a rain jacket for my wife", {"audiences": ("women",), "exclude_audiences": ("men",)}),
    ("im a guy and always cold", {"audiences": ("men",), "exclude_audiences": ("women",)}),
    ("t-shirts for men and women", {}),
    ("running shoes", {}),
])
def test_who_it_is_for(query, wanted):
    assert audience(query) == wanted


def test_for_men_excludes_what_is_labelled_for_women_and_keeps_what_is_labelled_for_nobody():
    from types import SimpleNamespace

    def product(category: str, title: str) -> SimpleNamespace:
        return SimpleNamespace(category=category, title=title, brand=None, attributes={})

    mens = Constraints(exclude_audiences=("women",))
    assert mens.excludes(product("Women's Clothing > Sweaters", "Mohair Cloud Sweater"))
    assert mens.excludes(product("Clothing > Jackets", "Rainwalker Parka Women's Jacket"))
    assert not mens.excludes(product("Men's Clothing > Sweaters", "Fisherman Cable Men's Sweater"))
    assert not mens.excludes(product("Shoes > Running Shoes", "Cloudride 3 Running Shoes"))


def test_a_size_word_before_the_kind_is_a_size_only_when_that_kind_comes_in_it(engine):
    # The fixture's kettles have no sizes and its shoes numeric ones: "large" stays a description.
    assert not engine.understand("a large kettle").constraints.sizes
    engine._type_sizes["kettle"] = {"large", "small"}  # as if the catalog's kettles came in named sizes
    assert engine.understand("a large kettle").constraints.sizes == ("large",)
    engine._type_sizes.clear()


def test_an_imitation_is_not_the_material():
    def view(title, category, **attributes):
        return ProductView(id=0, sku="X", title=title, description="", category=category, brand=None, price=1.0,
                           currency="USD", attributes=attributes, tags=(), rating=None, rating_count=None,
                           stock=1, image_url=None)

    wallet = view("Slim Wallet", "Bags & Travel > Wallets", material="vegan leather")
    assert has_material(wallet, ["vegan leather"]) and not has_material(wallet, ["leather"])
    assert has_material(view("Trail Tee", "Men's Clothing > T-Shirts", material="merino wool"), ["wool"])
    mohair = view("Cloud Sweater", "Women's Clothing > Sweaters", material="mohair blend")
    assert has_material(mohair, ["wool"]) and not has_material(mohair, ["cotton"])


def test_shoppers_words_for_connectivity_reach_the_catalogs_values():
    def view(title, **attributes):
        return ProductView(id=0, sku="X", title=title, description="", category="Electronics > Headphones",
                           brand=None, price=1.0, currency="USD", attributes=attributes, tags=(), rating=None,
                           rating_count=None, stock=1, image_url=None)

    wired, bluetooth = view("Studio Headphones", connectivity="wired"), view("Day Headphones", connectivity="bluetooth")
    assert AttributeLexicon.of([wired, bluetooth]).find("only wireless ones") == (("connectivity", "bluetooth"),)
    no_cables = Constraints(exclude_terms=("cable",))
    assert no_cables.excludes(wired) and not no_cables.excludes(bluetooth)


def test_a_childs_age_rules_out_what_is_labelled_for_older_children():
    def toy(age=None):
        return ProductView(id=0, sku="T", title="Game", description="", category="Toys & Games > Board Games",
                           brand=None, price=1.0, currency="USD", attributes={"age": age} if age else {},
                           tags=(), rating=None, rating_count=None, stock=1, image_url=None)

    assert [child_age(q) for q in ("anything for a 4 year old?", "my 7yo", "a 10-year-old", "40 years old",
                                   "a 2 person tent")] == [4, 7, 10, None, None]
    four = Constraints(child_age=4)
    assert four.allows(toy("3+")) and four.allows(toy("5+")) and four.allows(toy())
    assert not four.allows(toy("8+")) and not four.allows(toy("6-8"))


def test_typo_correction_leaves_plurals_of_catalog_words_and_synonyms_alone(engine):
    assert engine._correct("ketle") == "kettle"
    assert engine._correct("kettles") == "kettles" and engine._correct("comforter") == "comforter"


@pytest.mark.parametrize("query, unsold", [
    ("do you sell lawn mowers?", "lawn mowers"),
    ("what about a garden hose then", "garden hose"),
    ("cordless drill", "cordless drill"),
    ("looking for a lawn mower, nothing fancy", "lawn mower"),  # "nothing" asks for no kind of product
])
def test_a_short_request_for_a_kind_the_store_lacks_is_named(engine, query, unsold):
    assert engine.unsold_kind(query) == unsold


@pytest.mark.parametrize("query", [
    "do you sell kettles?",  # a kind it sells
    "a teapot",  # no catalog word, but close to kettles
    "waterproof backpak",  # a typo of a catalog word
    "handel",  # an English word, but maybe a typo of one
    "something for a hangover",  # a need, not a kind of product
    "shoes that aren't leather",  # the negated word is not what is asked for
    "anything with a long battery life for travel and the gym",  # too long to be a kind of product
    "waterproof hiking bots",  # a word of a kind it sells
    "kettles, nothing fancy, and a garden hose",  # a kind it sells named: the message is no unsold request
    "warm boots, not too heavy",
])
def test_kinds_it_sells_needs_typos_and_descriptions_are_never_unsold(engine, query):
    assert engine.unsold_kind(query) is None


def test_a_negated_kind_with_a_modifier_excludes_that_sort_only(engine):
    # "no drip coffee makers": the drip one goes, the other coffee makers stay
    response = engine.search("something for my morning coffee, no drip coffee makers")
    assert "CM-201" in skus(response) and "CM-200" not in skus(response)
    assert response.constraints.exclude_terms == ("drip",)


def test_looking_for_a_kind_asks_for_it(engine):
    assert engine.search("hi! looking for a yoga mat for my classes").constraints.category == "yoga mat"
    assert engine.unsold_kind("i'm looking for lawn mowers") == "lawn mowers"
