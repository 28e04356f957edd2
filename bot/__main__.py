"""``python -m bot serve|create-admin|create-user|set-display-name``: run the web app, manage console accounts."""
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


def create_account(username: str, role: Role, display_name: str | None) -> None:
    from bot.console.accounts import AccountError, clean_display_name, create_user, shown_name

    try:
        clean_display_name(display_name, username)  # before asking for a password
        create_user(session_factory(settings().database_url), username, read_password(), role,
                    actor=f"cli:{getpass.getuser()}", display_name=display_name)
    except AccountError as exc:
        sys.exit(f"error: {exc}")
    print(f"✓ {role.value} {username!r} created: log in at /login; shoppers see {shown_name(display_name)!r}")


def rename_account(username: str, display_name: str | None) -> None:
    from bot.console.accounts import AccountError, set_display_name, shown_name

    try:
        set_display_name(session_factory(settings().database_url), username, display_name,
                         actor=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        sys.exit(f"error: {exc}")
    print(f"✓ shoppers now see {username!r} as {shown_name(display_name)!r}")


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
    shown = "the name shoppers see when this person joins a chat (default: \"Customer support\"; never the login)"
    for command in (admin, user):
        command.add_argument("--display-name", help=shown)
    rename = sub.add_parser("set-display-name", help="change the name shoppers see for a console account")
    rename.add_argument("--username", required=True)
    rename.add_argument("--display-name", help=shown + "; leave out to go back to the default")
    args = parser.parse_args()
    configure_logging(cfg.log_level, cfg.log_format)
    if args.command == "create-admin":
        create_account(args.username, Role.admin, args.display_name)
    elif args.command == "create-user":
        create_account(args.username, Role(args.role), args.display_name)
    elif args.command == "set-display-name":
        rename_account(args.username, args.display_name)
    else:
        from bot.app import create_app

        cfg = dataclasses.replace(cfg, host=args.host, web_port=args.port)
        web.run_app(create_app(cfg), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
