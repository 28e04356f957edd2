"""``python -m catalog import|search`` (see ../shared/contracts/interfaces.md)."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from aisle.config import settings
from catalog.formats import FORMATS
from aisle.logs import configure_logging

MAX_REPORTED_ERRORS = 200


def cmd_import(path: Path, index: bool, fmt: str = "auto", store_url: str | None = None,
               currency: str = "USD") -> int:
    from aisle import migrate
    from aisle.db import session_factory
    from catalog.formats import Options
    from catalog.importer import upsert
    from catalog.records import ImportFileError, validate_file

    cfg = settings()
    try:
        report = validate_file(path, fmt, Options(store_url=store_url or cfg.store_url, currency=currency))
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: format {report.format}")
    if report.unknown_columns:
        print(f"ignored {len(report.unknown_columns)} unknown column(s): {', '.join(report.unknown_columns)}")
    for note in report.notes:
        print(note)
    if not report.ok:
        print(f"{path}: {len(report.errors)} problem(s), nothing was imported:", file=sys.stderr)
        for error in report.errors[:MAX_REPORTED_ERRORS]:
            print(f"  {error}", file=sys.stderr)
        if len(report.errors) > MAX_REPORTED_ERRORS:
            print(f"  ... and {len(report.errors) - MAX_REPORTED_ERRORS} more", file=sys.stderr)
        return 2
    migrate.upgrade(cfg.database_url)
    result = upsert(session_factory(cfg.database_url), report.records)
    print(f"{path}: {len(report.records)} products valid; {result.summary()}")
    if index:
        from catalog.search import CatalogSearch

        CatalogSearch(cfg).refresh()
        print("search index up to date")
    return 0


def cmd_seed_demo() -> int:
    """Import the shipped demo catalog, but only into an empty catalog (make run does this)."""
    from sqlalchemy import func, select

    from aisle import migrate
    from aisle.db import session_factory
    from aisle.models import Product
    from catalog.demo.generate import OUT

    cfg = settings()
    migrate.upgrade(cfg.database_url)
    with session_factory(cfg.database_url)() as session:
        count = session.scalar(select(func.count(Product.id)))
    if count:
        print(f"catalog has {count} products: demo catalog not imported")
        from catalog.search import CatalogSearch

        CatalogSearch(cfg).refresh()
        return 0
    print(f"empty catalog: importing the demo catalog {OUT.name} (fictional products)")
    return cmd_import(OUT, index=True)


def cmd_search(query: str | None, queries: Path | None, limit: int, as_json: bool) -> int:
    from catalog.search import CatalogSearch

    engine = CatalogSearch(settings())
    if queries is not None:
        for number, line in enumerate(queries.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                qid, text = item["qid"], str(item["query"])
            except (json.JSONDecodeError, KeyError, TypeError):
                print(f"error: {queries} line {number}: expected {{\"qid\": ..., \"query\": ...}}", file=sys.stderr)
                return 2
            print(json.dumps({"qid": qid, "results": engine.search(text, limit=limit).items}), flush=True)
        return 0
    response = engine.search(query or "", limit=limit)
    if as_json:
        print(json.dumps(response.items))
        return 0
    if response.relaxed:
        print(f"(no exact matches; relaxed: {', '.join(response.relaxed)})")
    for rank, item in enumerate(response.items, start=1):
        print(f"{rank:>3}. {item['sku']:<14} {item['price']:>9.2f} {item['currency']}  {item['title']}")
    return 0


def _store_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {raw!r}")
    return value


def _currency(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", raw.strip()):
        raise argparse.ArgumentTypeError(f"not a 3-letter ISO 4217 code: {raw!r}")
    return raw.strip().upper()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="validate a catalog file (Aisle JSON Lines/CSV, or a Shopify, WooCommerce "
                                        "or Google Merchant Center export), then upsert it by sku")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=FORMATS, default="auto",
                     help="the file's format (default: detected from its suffix, header columns or XML namespace)")
    imp.add_argument("--store-url", type=_store_url, default=None,
                     help="the shop's site, for product page links a file does not spell out (Shopify: "
                          "STORE_URL/products/HANDLE); default AISLE_STORE_URL")
    imp.add_argument("--currency", type=_currency, default="USD",
                     help="currency of prices in formats that do not say (Shopify, WooCommerce); default USD")
    imp.add_argument("--no-index", action="store_true", help="skip bringing the search index up to date")
    sub.add_parser("seed-demo", help="import the demo catalog if the catalog is empty, then index")
    sub.add_parser("seed-orders", help="demo customers, orders and shopping behaviour, if there are no customers")
    search = sub.add_parser("search", help="ranked products for a query")
    search.add_argument("query", nargs="?", help="what the shopper typed")
    search.add_argument("--queries", type=Path, help="JSON Lines file of {\"qid\", \"query\"} objects")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    configure_logging(settings().log_level, settings().log_format)
    if args.command == "import":
        return cmd_import(args.file, index=not args.no_index, fmt=args.format, store_url=args.store_url,
                          currency=args.currency)
    if args.command == "seed-demo":
        return cmd_seed_demo()
    if args.command == "seed-orders":
        from aisle.db import session_factory
        from catalog.demo.behaviour import backfill_postcodes, seed_database

        written = seed_database(session_factory())
        print(f"✓ demo orders: {written} written" if written else "✓ demo customers and orders already there")
        if filled := backfill_postcodes(session_factory()):
            print(f"✓ {filled} demo orders seeded before postcodes now ship to their customer's postcode")
        return 0
    if (args.query is None) == (args.queries is None):
        parser.error("give either a QUERY or --queries FILE")
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    return cmd_search(args.query, args.queries, args.limit, args.json)


if __name__ == "__main__":
    sys.exit(main())
