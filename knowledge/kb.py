"""The knowledge base in the database: entries, full version history, import/export, feedback, misses.

Every change creates a new ``FaqVersion`` (the whole entry as it now is, who, when, a summary) and an
audit event in the same transaction, so any version can be shown, compared and restored.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from aisle import audit
from aisle.models import FaqEntry, FaqFeedback, FaqMiss, FaqStatus, FaqVersion
from knowledge.records import EntryData, ImportRejected, Problem, Row, dump, entry_from_mapping

DEMO_FILE = Path(__file__).resolve().parent / "demo" / "faq.yml"
SNAPSHOT_FIELDS = ("question", "alternatives", "answer", "category", "tags", "status")


class NotFound(LookupError):
    pass


def snapshot(entry: FaqEntry) -> dict[str, Any]:
    return {"question": entry.question, "alternatives": list(entry.alternatives), "answer": entry.answer,
            "category": entry.category, "tags": list(entry.tags), "status": FaqStatus(entry.status).value}


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f for f in SNAPSHOT_FIELDS if old.get(f) != new.get(f)]


@dataclass
class FieldChange:
    field: str
    old: Any
    new: Any
    diff: list[str]  # unified diff lines for text fields


@dataclass
class KnowledgeBase:
    sessions: sessionmaker[Session]

    # ---- reading -------------------------------------------------------------------------------
    def entries(self, text: str = "", category: str = "", status: str = "") -> list[FaqEntry]:
        query = select(FaqEntry).order_by(FaqEntry.category, FaqEntry.question)
        if text.strip():
            like = f"%{text.strip()}%"
            query = query.where(or_(FaqEntry.question.ilike(like), FaqEntry.answer.ilike(like)))
        if category:
            query = query.where(FaqEntry.category == category)
        if status in FaqStatus.__members__:
            query = query.where(FaqEntry.status == FaqStatus(status))
        with self.sessions() as s:
            return list(s.scalars(query))

    def categories(self) -> list[str]:
        with self.sessions() as s:
            return list(s.scalars(select(FaqEntry.category).distinct().order_by(FaqEntry.category)))

    def get(self, entry_id: int) -> FaqEntry:
        with self.sessions() as s:
            entry = s.get(FaqEntry, entry_id)
            if entry is None:
                raise NotFound(f"no knowledge-base entry {entry_id}")
            return entry

    def versions(self, entry_id: int) -> list[FaqVersion]:
        with self.sessions() as s:
            return list(s.scalars(select(FaqVersion).where(FaqVersion.entry_id == entry_id)
                                  .order_by(FaqVersion.version.desc())))

    def version(self, entry_id: int, number: int) -> FaqVersion:
        with self.sessions() as s:
            found = s.scalars(select(FaqVersion).where(FaqVersion.entry_id == entry_id,
                                                       FaqVersion.version == number)).first()
            if found is None:
                raise NotFound(f"entry {entry_id} has no version {number}")
            return found

    def diff(self, entry_id: int, old: int, new: int) -> list[FieldChange]:
        a, b = self.version(entry_id, old).snapshot, self.version(entry_id, new).snapshot
        changes = []
        for name in changed_fields(a, b):
            lines = []
            if isinstance(a.get(name), str):
                lines = list(difflib.unified_diff(str(a[name]).splitlines(), str(b[name]).splitlines(),
                                                  f"version {old}", f"version {new}", lineterm=""))
            changes.append(FieldChange(name, a.get(name), b.get(name), lines))
        return changes

    # ---- writing -------------------------------------------------------------------------------
    def _save_version(self, s: Session, entry: FaqEntry, author: str, summary: str) -> None:
        s.add(FaqVersion(entry_id=entry.id, version=entry.version, snapshot=snapshot(entry), author=author,
                         summary=summary[:300]))

    def _apply(self, s: Session, entry: FaqEntry, data: EntryData) -> None:
        entry.question, entry.answer, entry.category = data.question, data.answer, data.category
        entry.alternatives, entry.tags, entry.status = list(data.alternatives), list(data.tags), data.status

    def _create(self, s: Session, data: EntryData, author: str, summary: str) -> FaqEntry:
        entry = FaqEntry(version=1)
        self._apply(s, entry, data)
        s.add(entry)
        s.flush()
        self._save_version(s, entry, author, summary or "created")
        audit.record(s, author, "faq.create", f"faq:{entry.id}", question=data.question)
        return entry

    def _update(self, s: Session, entry: FaqEntry, data: EntryData, author: str, summary: str,
                action: str = "faq.update") -> bool:
        before = snapshot(entry)
        changed = changed_fields(before, data.snapshot())
        if not changed:
            return False
        self._apply(s, entry, data)
        entry.version += 1
        self._save_version(s, entry, author, summary or f"changed {', '.join(changed)}")
        audit.record(s, author, action, f"faq:{entry.id}", fields=changed, version=entry.version)
        return True

    def create(self, data: EntryData, author: str, summary: str = "") -> FaqEntry:
        with self.sessions() as s:
            entry = self._create(s, data, author, summary)
            s.commit()
            return entry

    def update(self, entry_id: int, data: EntryData, author: str, summary: str = "") -> FaqEntry:
        with self.sessions() as s:
            entry = s.get(FaqEntry, entry_id)
            if entry is None:
                raise NotFound(f"no knowledge-base entry {entry_id}")
            self._update(s, entry, data, author, summary)
            s.commit()
            return entry

    def set_status(self, entry_id: int, status: FaqStatus, author: str) -> FaqEntry:
        entry = self.get(entry_id)
        _, data = entry_from_mapping({**snapshot(entry), "status": status.value})
        return self.update(entry_id, data, author, summary=f"status → {status.value}")

    def restore(self, entry_id: int, number: int, author: str) -> FaqEntry:
        old = self.version(entry_id, number).snapshot
        _, data = entry_from_mapping(old)
        with self.sessions() as s:
            entry = s.get(FaqEntry, entry_id)
            if entry is None:
                raise NotFound(f"no knowledge-base entry {entry_id}")
            self._update(s, entry, data, author, f"restored version {number}", action="faq.restore")
            s.commit()
            return entry

    def import_rows(self, rows: list[Row], author: str, source: str) -> dict[str, int]:
        """Apply a parsed file in one transaction: all rows or, on any problem, none."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        with self.sessions() as s:
            ids = [r.id for r in rows if r.id is not None]
            existing = {e.id: e for e in s.scalars(select(FaqEntry).where(FaqEntry.id.in_(ids)))} if ids else {}
            missing = [Problem(r.line, f"there is no entry with id {r.id} to update")
                       for r in rows if r.id is not None and r.id not in existing]
            if missing:
                raise ImportRejected(missing)
            for row in rows:
                if row.id is None:
                    self._create(s, row.data, author, f"imported from {source}")
                    counts["created"] += 1
                elif self._update(s, existing[row.id], row.data, author, f"imported from {source}"):
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            audit.record(s, author, "faq.import", source, **counts)
            s.commit()
        return counts

    def export(self, fmt: str) -> str:
        return dump([{"id": e.id, **snapshot(e)} for e in self.entries()], fmt)

    def seed_demo(self, author: str = "demo-seed") -> int:
        """Load the demo knowledge base (published) into an empty one; returns entries added."""
        with self.sessions() as s:
            if s.scalar(select(func.count(FaqEntry.id))):
                return 0
        raw = yaml.safe_load(DEMO_FILE.read_text())["entries"]
        rows = [Row(i, None, entry_from_mapping({**e, "status": "published"})[1]) for i, e in enumerate(raw, 1)]
        return self.import_rows(rows, author, "demo knowledge base")["created"]

    # ---- shopper signals -----------------------------------------------------------------------
    def record_feedback(self, entry_id: int, helpful: bool, conversation_id: str | None) -> None:
        with self.sessions() as s:
            if s.get(FaqEntry, entry_id) is not None:
                s.add(FaqFeedback(entry_id=entry_id, helpful=helpful, conversation_id=conversation_id))
                s.commit()

    def record_miss(self, question: str, best_entry_id: int | None, confidence: float,
                    conversation_id: str | None) -> None:
        with self.sessions() as s:
            s.add(FaqMiss(question=question[:2000], best_entry_id=best_entry_id, confidence=confidence,
                          conversation_id=conversation_id))
            s.commit()

    def feedback_report(self, limit: int = 20) -> list[dict[str, Any]]:
        """Entries with the most "didn't help" answers first."""
        unhelpful = func.sum(case((FaqFeedback.helpful.is_(False), 1), else_=0))
        helpful = func.sum(case((FaqFeedback.helpful.is_(True), 1), else_=0))
        query = (select(FaqEntry.id, FaqEntry.question, unhelpful.label("unhelpful"), helpful.label("helpful"))
                 .join(FaqFeedback, FaqFeedback.entry_id == FaqEntry.id).group_by(FaqEntry.id)
                 .order_by(unhelpful.desc(), FaqEntry.question).limit(limit))
        with self.sessions() as s:
            return [dict(r._mapping) for r in s.execute(query)]

    def misses(self, limit: int = 50) -> list[FaqMiss]:
        with self.sessions() as s:
            return list(s.scalars(select(FaqMiss).order_by(FaqMiss.created_at.desc()).limit(limit)))
