"""The audit log: every change made through the consoles or the admin CLI, in the same transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aisle.models import AuditEvent


def record(session: Session, username: str, action: str, target: str = "", **detail: Any) -> None:
    session.add(AuditEvent(username=username, action=action, target=target, detail=detail))
