"""``python -m aisle migrate|revision|backup|restore``: database schema management and backups."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from aisle import migrate
from aisle.config import settings
from aisle.logs import configure_logging


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m aisle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database in AISLE_DATABASE_URL to the newest schema")
    rev = sub.add_parser("revision", help="autogenerate a migration from aisle/models.py")
    rev.add_argument("-m", "--message", required=True)
    backup = sub.add_parser("backup", help="the database and AISLE_DATA_DIR (models, indexes) in one archive")
    backup.add_argument("--out", type=Path, help="archive to write; .tar.gz/.tgz compresses "
                                                 "(default: aisle-backup-<UTC time>.tar here)")
    restore = sub.add_parser("restore", help="check a backup archive whole, then restore it into "
                                             "AISLE_DATABASE_URL and AISLE_DATA_DIR")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--force", action="store_true", help="replace a database or data dir that is not empty")
    args = parser.parse_args()
    cfg = settings()
    configure_logging(cfg.log_level, cfg.log_format)
    if args.command == "migrate":
        migrate.upgrade(cfg.database_url)
    elif args.command == "revision":
        migrate.revision(cfg.database_url, args.message)
    else:
        from aisle.backup import BackupError, Target, backup, restore

        try:
            if args.command == "backup":
                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
                backup(Target.of(cfg), args.out or Path(f"aisle-backup-{stamp}.tar"))
            else:
                restore(Target.of(cfg), args.archive, force=args.force)
        except BackupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
