"""``python -m aisle migrate|revision``: database schema management."""
from __future__ import annotations

import argparse

from aisle import migrate
from aisle.config import settings
from aisle.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m aisle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database in AISLE_DATABASE_URL to the newest schema")
    rev = sub.add_parser("revision", help="autogenerate a migration from aisle/models.py")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    configure_logging(settings().log_level, settings().log_format)
    if args.command == "migrate":
        migrate.upgrade(settings().database_url)
    else:
        migrate.revision(settings().database_url, args.message)


if __name__ == "__main__":
    main()
