"""Console accounts: argon2 password hashes, roles, login throttling."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from aisle import audit
from aisle.models import Role, User

HASHER = PasswordHasher()
# Verified when the username does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("not a real password")
USERNAME = re.compile(r"^[a-z0-9_.-]{3,64}$")
MIN_PASSWORD = 10
MAX_DISPLAY_NAME = 80
# Shown to shoppers for staff without a display name: never the login, which would help guess logins.
DEFAULT_DISPLAY_NAME = "Customer support"


class AccountError(ValueError):
    pass


def canonical_username(username: str) -> str:
    """The one form of a login name used for lookups and for counting failures: " Sam\t" is "sam"."""
    return "".join(username.split()).lower()


def clean_display_name(display_name: str | None, username: str) -> str | None:
    """The name shoppers see, checked: one line of printable text, never the login itself."""
    if display_name is None:
        return None
    name = " ".join(display_name.split())
    if not name or len(name) > MAX_DISPLAY_NAME or not name.isprintable():
        raise AccountError(f"display name: 1-{MAX_DISPLAY_NAME} printable characters")
    if canonical_username(name) == canonical_username(username):
        raise AccountError("display name: must differ from the login name (shoppers see it)")
    return name


def shown_name(display_name: str | None) -> str:
    return display_name or DEFAULT_DISPLAY_NAME


def create_user(sessions: sessionmaker[Session], username: str, password: str, role: Role, actor: str,
                display_name: str | None = None) -> User:
    username = canonical_username(username)
    if not USERNAME.match(username):
        raise AccountError("username: 3-64 lowercase letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    display_name = clean_display_name(display_name, username)
    with sessions() as s:
        if s.scalar(select(User.id).where(User.username == username)):
            raise AccountError(f"a user named {username!r} already exists")
        user = User(username=username, password_hash=HASHER.hash(password), role=role, display_name=display_name)
        s.add(user)
        audit.record(s, actor, "user.create", f"user:{username}", role=role.value, display_name=display_name)
        s.commit()
        return user


def set_display_name(sessions: sessionmaker[Session], username: str, display_name: str | None, actor: str) -> None:
    """Change (or with None, clear to the default) the name shoppers see for this account."""
    username = canonical_username(username)
    display_name = clean_display_name(display_name, username)
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise AccountError(f"no user named {username!r}")
        user.display_name = display_name
        audit.record(s, actor, "user.display_name", f"user:{username}", display_name=display_name)
        s.commit()


def display_names(s: Session, usernames: set[str]) -> dict[str, str]:
    """What shoppers see for each of these logins (the default for unknown or unnamed accounts)."""
    found = dict(s.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all())
    return {name: shown_name(found.get(name)) for name in usernames}


def authenticate(sessions: sessionmaker[Session], username: str, password: str) -> User | None:
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == canonical_username(username))).first()
        try:
            HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = HASHER.hash(password)
        user.last_login_at = datetime.now(timezone.utc)
        s.commit()
        return user


@dataclass
class LoginThrottle:
    """Failed logins per username and per IP address in a moving window; successes are free."""

    per_user: str = "5/15 minutes"
    per_ip: str = "30/15 minutes"
    storage_uri: str = "memory://"  # Redis in production mode: every app instance counts together

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(self.storage_uri))
        self._user, self._ip = parse(self.per_user), parse(self.per_ip)

    def allowed(self, username: str, ip: str) -> bool:
        return (self._limiter.test(self._user, "user", canonical_username(username))
                and self._limiter.test(self._ip, "ip", ip))

    def failed(self, username: str, ip: str) -> None:
        self._limiter.hit(self._user, "user", canonical_username(username))
        self._limiter.hit(self._ip, "ip", ip)
