"""Canned replies: prepared answers an agent inserts into a live chat by shortcut ("/returns").

Admins create, edit and delete them; every change is in the audit log, in the same transaction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from aisle import audit
from aisle.models import CannedReply
from bot.handoff import MAX_AGENT_MESSAGE
from knowledge.records import normalise_newlines

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class CannedError(ValueError):
    """Bad input or an unknown reply; the message is fit to show the admin."""


@dataclass(frozen=True)
class Canned:
    id: int
    shortcut: str
    text: str
    updated_by: str


def _view(row: CannedReply) -> Canned:
    return Canned(row.id, row.shortcut, row.text, row.updated_by)


def _clean(shortcut: str, text: str) -> tuple[str, str]:
    shortcut = shortcut.strip().lstrip("/").lower()
    text = normalise_newlines(text).strip()
    if not SHORTCUT.match(shortcut):
        raise CannedError("A shortcut is 1-40 lowercase letters, digits, '-' or '_', starting with a letter or digit.")
    if not text:
        raise CannedError("The reply needs some text.")
    if len(text) > MAX_AGENT_MESSAGE:
        raise CannedError(f"A reply is at most {MAX_AGENT_MESSAGE} characters (it has {len(text)}).")
    return shortcut, text


@dataclass
class CannedReplies:
    sessions: sessionmaker[Session]

    def all(self) -> list[Canned]:
        with self.sessions() as s:
            return [_view(r) for r in s.scalars(select(CannedReply).order_by(CannedReply.shortcut))]

    @staticmethod
    def _row(s: Session, reply_id: int) -> CannedReply:
        row = s.get(CannedReply, reply_id)
        if row is None:
            raise CannedError("No such canned reply (someone may have deleted it).")
        return row

    def _commit(self, s: Session, shortcut: str) -> None:
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            raise CannedError(f"There is already a reply with the shortcut /{shortcut}.") from None

    def create(self, shortcut: str, text: str, user: str) -> Canned:
        shortcut, text = _clean(shortcut, text)
        with self.sessions() as s:
            row = CannedReply(shortcut=shortcut, text=text, updated_by=user)
            s.add(row)
            audit.record(s, user, "canned.create", shortcut)
            self._commit(s, shortcut)
            return _view(row)

    def update(self, reply_id: int, shortcut: str, text: str, user: str) -> Canned:
        shortcut, text = _clean(shortcut, text)
        with self.sessions() as s:
            row = self._row(s, reply_id)
            before = row.shortcut
            row.shortcut, row.text, row.updated_by = shortcut, text, user
            audit.record(s, user, "canned.update", shortcut, **({"renamed_from": before} if before != shortcut else {}))
            self._commit(s, shortcut)
            return _view(row)

    def delete(self, reply_id: int, user: str) -> None:
        with self.sessions() as s:
            row = self._row(s, reply_id)
            audit.record(s, user, "canned.delete", row.shortcut)
            s.delete(row)
            s.commit()
