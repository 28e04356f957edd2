"""Catalog import from what shops export: Shopify and WooCommerce product CSVs, Google Merchant Center
feeds (TSV and RSS XML), through the real ``python -m catalog`` CLI into a scratch data dir."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aisle import migrate
from aisle.db import session_factory
from aisle.models import Product
from catalog.documents import view_of
from catalog.formats import Options, detect
from catalog.formats.html_text import html_to_text
from catalog.records import ImportFileError, validate_file
from catalog.search import model_name

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY, WOO = FIXTURES / "shopify_products.csv", FIXTURES / "woocommerce_products.csv"
GMC_TSV, GMC_XML = FIXTURES / "gmc_products.tsv", FIXTURES / "gmc_products.xml"
STORE = "https://northwind.example"


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AISLE_")}
    environment.update({"AISLE_DATA_DIR": str(data_dir), "AISLE_LOG_LEVEL": "WARNING", **env})
    return subprocess.run([sys.executable, "-m", "catalog", *args], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def product_count(data_dir: Path) -> int:
    url = f"sqlite:///{data_dir / 'aisle.db'}"
    migrate.upgrade(url)
    with session_factory(url)() as session:
        return session.scalar(select(func.count(Product.id)))


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """All four fixtures imported, each by the real CLI, into one scratch store; their summaries."""
    data_dir = tmp_path_factory.mktemp("store")
    summaries = {}
    for path, extra in ((SHOPIFY, {"AISLE_STORE_URL": STORE}), (WOO, {}), (GMC_TSV, {}), (GMC_XML, {})):
        args = ["import", str(path)] + (["--store-url", "https://shop.example.com"] if path == WOO else [])
        done = cli(data_dir, *args, **extra)
        assert done.returncode == 0, done.stderr
        summaries[path.name] = done.stdout
    return data_dir, summaries


def search(data_dir: Path, queries: dict[str, str]) -> dict[str, list[dict]]:
    batch = data_dir / "queries.jsonl"
    batch.write_text("".join(json.dumps({"qid": q, "query": text}) + "\n" for q, text in queries.items()))
    done = cli(data_dir, "search", "--queries", str(batch), "--limit", "5", "--json")
    assert done.returncode == 0, done.stderr
    return {line["qid"]: line["results"] for line in map(json.loads, done.stdout.splitlines())}


def test_each_platform_export_imports_cleanly_and_is_searchable(imported):
    data_dir, summaries = imported
    assert "format shopify" in summaries["shopify_products.csv"]
    assert "4 products valid; 4 created" in summaries["shopify_products.csv"]
    assert "1 draft, archived or unpublished product(s) skipped" in summaries["shopify_products.csv"]
    assert "format woocommerce" in summaries["woocommerce_products.csv"]
    assert "3 products valid; 3 created" in summaries["woocommerce_products.csv"]
    assert "format gmc-tsv" in summaries["gmc_products.tsv"] and "3 created" in summaries["gmc_products.tsv"]
    assert "format gmc-xml" in summaries["gmc_products.xml"] and "3 created" in summaries["gmc_products.xml"]
    assert product_count(data_dir) == 13
    found = search(data_dir, {"sweater": "merino sweater", "hoodie": "trail hoodie", "tent": "two person tent",
                              "shoe": "trail running shoes", "mug": "enamel mug for camping"})
    by_sku = {r["sku"]: r for results in found.values() for r in results}
    assert {"NK-MCS-NV-M", "NK-MCS-NV-L", "NK-MCS-CH-M"} <= {r["sku"] for r in found["sweater"]}
    assert found["hoodie"][0]["sku"] in ("HOOD-01-BLUE", "HOOD-01-GREY")
    assert found["tent"][0]["sku"].startswith("TENT-2P")
    assert found["shoe"][0]["sku"].startswith("SHOE-TR")
    assert found["mug"][0]["sku"] == "RO-MUG-350"
    sweater = by_sku["NK-MCS-CH-M"]
    assert sweater["url"] == f"{STORE}/products/merino-crew-sweater"
    assert sweater["image_url"].endswith("/sweater-charcoal.jpg")  # the variant's own image
    assert by_sku["HOOD-01-BLUE"]["url"] == "https://shop.example.com/?post_type=product&p=101"
    assert by_sku["HOOD-01-BLUE"]["price"] == 39.0  # on sale
    assert found["tent"][0]["url"].startswith("https://www.example-outdoor.com/products/ridge-2p-tent")


def test_unknown_columns_are_reported_and_kept_out_of_the_catalog(imported):
    data_dir, summaries = imported
    assert ("ignored 1 unknown column(s): Color (product.metafields.shopify.color-pattern)"
            in summaries["shopify_products.csv"])
    assert "ignored 1 unknown column(s): Meta: _wpcom_is_markdown" in summaries["woocommerce_products.csv"]
    assert "ignored 1 unknown column(s): internal_buyer_note" in summaries["gmc_products.tsv"]
    assert "ignored 1 unknown column(s): g:warehouse_bin" in summaries["gmc_products.xml"]
    url = f"sqlite:///{data_dir / 'aisle.db'}"
    with session_factory(url)() as session:
        views = [view_of(p) for p in session.scalars(select(Product))]
    searched = " ".join(" ".join(v.lexical_fields().values()) for v in views)
    for value in ("navy; charcoal", "reorder in March", "B-14"):
        assert value not in searched


@pytest.mark.parametrize("name, line", [
    ("shopify_products_broken.csv", "line 6: price must be a number, got 'abc'"),  # after a 3-line body
    ("woocommerce_products_broken.csv", "line 6: price must be a number, got 'abc'"),
    ("gmc_products_broken.tsv", "line 4: price must be a number, got 'abc USD'"),
    ("gmc_products_broken.xml", "line 48 (item 3): price must be a number, got 'abc'"),
])
def test_a_broken_row_is_reported_with_its_line_and_nothing_is_written(tmp_path, name, line):
    done = cli(tmp_path, "import", str(FIXTURES / name))
    assert done.returncode == 2
    assert f"  {line}" in done.stderr.splitlines()
    assert "nothing was imported" in done.stderr
    assert product_count(tmp_path) == 0


def test_formats_are_detected_from_header_columns_and_namespace(tmp_path):
    for path, fmt in ((SHOPIFY, "shopify"), (WOO, "woocommerce"), (GMC_TSV, "gmc-tsv"), (GMC_XML, "gmc-xml"),
                      (FIXTURES / "catalog_small.jsonl", "aisle-jsonl")):
        assert detect(path, path.read_text(encoding="utf-8-sig")) == fmt
        assert validate_file(path).format == fmt
    renamed = tmp_path / "export.txt"  # detection reads the header, not the name
    renamed.write_bytes(SHOPIFY.read_bytes())
    assert validate_file(renamed).format == "shopify"
    assert validate_file(renamed, "shopify").ok
    aisle_csv = tmp_path / "mine.csv"
    aisle_csv.write_text("sku,title,description,category,price\nA-1,Mug,A mug.,Kitchen,3\n", encoding="utf-8")
    assert validate_file(aisle_csv).format == "aisle-csv"
    (tmp_path / "feed.xml").write_text("<rss><channel><item><title>x</title></item></channel></rss>")
    with pytest.raises(ImportFileError, match="without the Merchant Center namespace"):
        validate_file(tmp_path / "feed.xml")


def test_a_wrong_format_choice_fails_clearly(tmp_path):
    done = cli(tmp_path, "import", str(WOO), "--format", "gmc-tsv", "--no-index")
    assert done.returncode == 2 and "line " in done.stderr
    done = cli(tmp_path, "import", str(WOO), "--format", "excel", "--no-index")
    assert done.returncode == 2 and "invalid choice: 'excel'" in done.stderr
    assert product_count(tmp_path) == 0


def test_shopify_variants_become_products_grouped_by_handle():
    report = validate_file(SHOPIFY, options=Options(store_url=STORE, currency="EUR"))
    assert report.ok, report.errors
    by_sku = {r.sku: r for r in report.records}
    navy_m, navy_l, charcoal = by_sku["NK-MCS-NV-M"], by_sku["NK-MCS-NV-L"], by_sku["NK-MCS-CH-M"]
    assert {navy_m.group_key, navy_l.group_key, charcoal.group_key} == {"merino-crew-sweater"}
    assert (navy_l.title, navy_l.attributes["color"], navy_l.attributes["size"]) == (
        "Merino Crew Sweater, Navy, L", "Navy", "L")
    assert navy_l.stock == 0  # oversold (-2) in Shopify means none left
    assert (navy_m.stock, str(charcoal.price), navy_m.currency) == (14, "92.00", "EUR")
    assert navy_m.attributes["compare_at_price"] == "110.00"
    # Product-level fields come from the handle's first row; the image-only row adds a picture.
    assert charcoal.brand == "Northwind Knits" and charcoal.tags == ["merino", "winter", "knitwear"]
    assert navy_m.image_url.endswith("/sweater-navy.jpg")
    assert [u.rsplit("/", 1)[1] for u in navy_m.images] == ["sweater-detail.jpg", "sweater-charcoal.jpg"]
    mug = by_sku["RO-MUG-350"]
    assert mug.title == "Enamel Camp Mug" and mug.attributes == {"product_type": "Mugs"}  # no "Default Title"
    assert mug.url == f"{STORE}/products/enamel-camp-mug"
    assert "NK-BEANIE" not in by_sku  # a draft


def test_shopify_export_without_stock_quantities_imports_products_as_available(tmp_path):
    with SHOPIFY.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames or () if c != "Variant Inventory Qty"]
        rows = list(reader)
    without = tmp_path / "multi_location.csv"  # a store with several locations exports no quantity column
    with without.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = validate_file(without)
    assert report.ok and report.format == "shopify", report.errors
    assert any("no Variant Inventory Qty column" in note for note in report.notes)
    assert {r.stock for r in report.records} == {1}


def test_woocommerce_variations_take_what_they_leave_empty_from_their_parent():
    report = validate_file(WOO)
    assert report.ok, report.errors
    by_sku = {r.sku: r for r in report.records}
    assert set(by_sku) == {"HOOD-01-BLUE", "HOOD-01-GREY", "BOTTLE-750"}  # the parent is a model, 111 a draft
    blue, grey, bottle = by_sku["HOOD-01-BLUE"], by_sku["HOOD-01-GREY"], by_sku["BOTTLE-750"]
    assert blue.group_key == grey.group_key == "HOOD-01" and bottle.group_key is None
    assert blue.category == "Clothing > Hoodies" and blue.brand == "Ridgeline"
    assert blue.attributes == {"color": "Blue", "material": "Organic cotton", "compare_at_price": "45"}
    assert "- Kangaroo pocket" in blue.description.splitlines()
    assert (blue.stock, grey.stock, bottle.stock) == (12, 0, 30)
    assert blue.image_url.endswith("/hoodie-blue.jpg") and blue.images[0].endswith("/hoodie-back.jpg")
    assert bottle.url is None  # no permalink column and no store URL given


def test_merchant_center_items_keep_prices_links_and_item_groups():
    tsv, xml = validate_file(GMC_TSV), validate_file(GMC_XML)
    assert tsv.ok and xml.ok, (tsv.errors, xml.errors)
    by_sku = {r.sku: r for r in tsv.records + xml.records}
    orange, lantern, shoe = by_sku["TENT-2P-ORG"], by_sku["LANTERN-1"], by_sku["SHOE-TR-42"]
    assert (str(orange.price), orange.attributes["compare_at_price"], orange.stock) == ("219.00", "249.00", 0)
    assert lantern.category == "Camping > Lighting" and lantern.group_key is None
    assert by_sku["TENT-2P-GRN"].images == ["https://www.example-outdoor.com/img/tent-inside.jpg",
                                            "https://www.example-outdoor.com/img/tent-packed.jpg"]
    assert shoe.group_key == by_sku["SHOE-TR-43"].group_key == "SHOE-TR"
    assert shoe.url == "https://www.example-outdoor.com/products/trail-runner?size=42"
    assert len(shoe.images) == 2 and shoe.attributes["size"] == "42"
    assert shoe.description == "Grippy lugs & a rock plate.\n- Drop: 6 mm\n- Weight: 290 g"
    assert by_sku["CAP-SUN-1"].title == "Sun Cap with Neck Flap"  # g:title works as well as <title>


def test_html_descriptions_become_clean_text():
    html = ("<div><h2>Care</h2><p>Wash cold &amp; dry flat&nbsp;&mdash; don&#39;t tumble.</p>"
            "<script>document.write('<p>injected</p>')</script><style>.x{color:red}</style>"
            "<ul><li>100% wool</li><li>Made in <b>Portugal</b></li></ul>Line<br>break</div>")
    assert html_to_text(html) == ("Care\nWash cold & dry flat — don't tumble.\n- 100% wool\n"
                                  "- Made in Portugal\nLine\nbreak")
    assert html_to_text("Plain text, 3 &lt; 4") == "Plain text, 3 < 4"
    assert html_to_text("<ul><li><p>Wool</p></li><li>Silk</li></ul>") == "- Wool\n- Silk"


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE rss SYSTEM "http://attacker.example/evil.dtd">',
])
def test_xml_with_a_dtd_is_refused(tmp_path, doctype):
    feed = tmp_path / "feed.xml"
    feed.write_text(f'<?xml version="1.0"?>\n{doctype}\n<rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
                    '<item><g:id>X-1</g:id><title>&xxe;</title><description>d</description>'
                    '<g:price>1.00 USD</g:price></item></channel></rss>')
    with pytest.raises(ImportFileError, match="DTD"):
        validate_file(feed)
    done = cli(tmp_path, "import", str(feed), "--no-index")
    assert done.returncode == 2 and "refused" in done.stderr
    assert product_count(tmp_path) == 0


def test_malformed_xml_names_its_line(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_text('<rss xmlns:g="http://base.google.com/ns/1.0">\n<channel>\n<item><g:id>X</item>\n</channel></rss>')
    with pytest.raises(ImportFileError, match="line 3: the XML is not well-formed"):
        validate_file(feed)


def test_links_must_be_web_addresses(tmp_path):
    feed = tmp_path / "feed.tsv"
    feed.write_text("id\ttitle\tdescription\tprice\tlink\timage_link\n"
                    "A-1\tMug\tA mug.\t3.00 USD\tjavascript:alert(1)\thttps://img.example/a.jpg\n", encoding="utf-8")
    assert [str(e) for e in validate_file(feed).errors] == [
        "line 2: url must be an http(s) URL, got 'javascript:alert(1)'"]


def test_variants_share_a_model_by_their_group_key():
    records = {r.sku: r for r in validate_file(SHOPIFY).records}

    class Row:  # what view_of reads from a Product
        def __init__(self, record, id_):
            self.__dict__.update(record.as_row(), id=id_)

    sweaters = {model_name(view_of(Row(records[s], i))) for i, s in enumerate(("NK-MCS-NV-M", "NK-MCS-CH-M"))}
    assert sweaters == {"group:merino-crew-sweater"}
    assert model_name(view_of(Row(records["RO-MUG-350"], 9))) == "group:enamel-camp-mug"


def test_the_stores_variant_ids_are_kept_for_its_cart_links(tmp_path):
    with SHOPIFY.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns, rows = [*(reader.fieldnames or ()), "Variant ID"], list(reader)
    for n, row in enumerate(rows):  # a bulk-export app's file: Shopify's own export has no ids
        row["Variant ID"] = str(44_000 + n) if row.get("Variant SKU") else ""
    with_ids = tmp_path / "shopify_with_ids.csv"
    with with_ids.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    shopify = validate_file(with_ids)
    assert shopify.ok and "Variant ID" not in shopify.unknown_columns, shopify.errors
    expected = {row["Variant SKU"]: row["Variant ID"] for row in rows if row.get("Variant SKU")}
    assert {r.sku: r.variant_id for r in shopify.records} == {s: expected[s] for s in (r.sku for r in shopify.records)}
    woo = {r.sku: r.variant_id for r in validate_file(WOO).records}
    assert woo == {"HOOD-01-BLUE": "102", "HOOD-01-GREY": "103", "BOTTLE-750": "110"}  # a variation's own ID
    feed = tmp_path / "google_channel.tsv"
    feed.write_text("id\ttitle\tdescription\tlink\tavailability\tprice\n"
                    "shopify_US_8123_44017\tMug\tA mug\thttps://s.example/mug\tin stock\t12.00 USD\n"
                    "MUG-2\tMug 2\tA mug\thttps://s.example/mug2\tin stock\t12.00 USD\n", encoding="utf-8")
    assert [r.variant_id for r in validate_file(feed).records] == ["44017", None]
