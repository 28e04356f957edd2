"""``python -m bot serve|create-admin|create-user``: run the web app, manage console accounts."""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys

from aiohttp import web

from aisle.config import settings
from aisle.db import session_factory
from aisle.logs import configure_logging
from aisle.models import Role


def read_password() -> str:
    """From AISLE_ADMIN_PASSWORD (scripts, CI) or asked twice on the terminal."""
    if os.environ.get("AISLE_ADMIN_PASSWORD"):
        return os.environ["AISLE_ADMIN_PASSWORD"]
    if not sys.stdin.isatty():
        sys.exit("error: no terminal to ask for the password: set AISLE_ADMIN_PASSWORD")
    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        sys.exit("error: the passwords differ")
    return first


def create_account(username: str, role: Role) -> None:
    from bot.console.accounts import AccountError, create_user

    try:
        create_user(session_factory(settings().database_url), username, read_password(), role,
                    actor=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        sys.exit(f"error: {exc}")
    print(f"✓ {role.value} {username!r} created: log in at /login")


def main() -> None:
    cfg = settings()
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the store page, widget gateway, consoles and health page")
    serve.add_argument("--host", default=cfg.host)
    serve.add_argument("--port", type=int, default=cfg.web_port)
    admin = sub.add_parser("create-admin", help="create a console admin (password from AISLE_ADMIN_PASSWORD "
                                                "or asked on the terminal)")
    admin.add_argument("--username", required=True)
    user = sub.add_parser("create-user", help="create a console account with a role")
    user.add_argument("--username", required=True)
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.agent.value)
    args = parser.parse_args()
    configure_logging(cfg.log_level)
    if args.command == "create-admin":
        create_account(args.username, Role.admin)
    elif args.command == "create-user":
        create_account(args.username, Role(args.role))
    else:
        from bot.app import create_app

        cfg = dataclasses.replace(cfg, host=args.host, web_port=args.port)
        web.run_app(create_app(cfg), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
