"""``python -m knowledge``: seed, import, export and query the FAQ knowledge base."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from aisle.config import settings
from aisle.db import session_factory
from aisle.logs import configure_logging
from knowledge.kb import KnowledgeBase
from knowledge.records import ImportRejected, parse


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed-demo", help="load the demo knowledge base if the knowledge base is empty")
    imp = sub.add_parser("import", help="validate a CSV or YAML file whole, then apply it in one transaction")
    imp.add_argument("file", type=Path)
    imp.add_argument("--format", choices=["csv", "yaml"], help="default: from the file extension")
    exp = sub.add_parser("export", help="write every entry as CSV or YAML to standard output")
    exp.add_argument("--format", choices=["csv", "yaml"], default="yaml")
    ask = sub.add_parser("ask", help="what the bot would answer, with its confidence (JSON)")
    ask.add_argument("question")
    args = parser.parse_args()
    cfg = settings()
    configure_logging(cfg.log_level, cfg.log_format)
    kb = KnowledgeBase(session_factory(cfg.database_url))
    author = f"cli:{getpass.getuser()}"
    if args.command == "seed-demo":
        added = kb.seed_demo()
        print(f"✓ demo knowledge base: {added} entries added" if added else "✓ knowledge base already has entries")
    elif args.command == "import":
        fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "yaml")
        try:
            counts = kb.import_rows(parse(args.file.read_text(encoding="utf-8"), fmt), author, args.file.name)
        except ImportRejected as exc:
            print(f"{args.file}: {exc}", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            sys.exit(2)
        except (OSError, UnicodeDecodeError) as exc:
            sys.exit(f"cannot read {args.file}: {exc}")
        print(f"✓ imported {args.file}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    elif args.command == "export":
        sys.stdout.write(kb.export(args.format))
    else:
        from knowledge.retrieval import FaqRetriever

        print(json.dumps(FaqRetriever(kb.sessions).answer(args.question).as_dict(), indent=2))


if __name__ == "__main__":
    main()
