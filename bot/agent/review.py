"""Reviewing a conversation: tags, notes, reviewed mark, and corrections of misunderstood messages.

Corrections export as Rasa NLU YAML (entities annotated inline as ``[value](entity)``), and an admin
merges them into ``data/nlu/corrections.yml``, the training data the NLU model is trained from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from aisle import audit
from aisle.config import REPO_ROOT
from aisle.models import Author, Conversation, ConversationNote, ConversationTag, Message, MessageCorrection
from bot.agent.masking import training_entity, training_text

TAG = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")
CORRECTIONS_FILE = REPO_ROOT / "data" / "nlu" / "corrections.yml"
CORRECTIONS_HEADER = ("# Shopper messages the bot misunderstood, corrected by support agents in the agent console\n"
                      "# and merged here by an admin. Training data like the rest of data/nlu.\n")


class ReviewError(ValueError):
    pass


def parse_entities(raw: str) -> list[dict[str, str]]:
    """``entity=value`` per line (the console's entity box)."""
    out = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]{1,40}", name.strip()) or not value.strip():
            raise ReviewError(f"entities: write one entity=value per line, not {line.strip()[:60]!r}")
        out.append({"entity": name.strip(), "value": value.strip()})
    return out


def annotate(text: str, entities: list[dict[str, Any]]) -> str:
    """Rasa's inline entity markup; a value that is not in the text is given as a synonym-style mapping."""
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for e in entities:
        at = text.lower().find(str(e["value"]).lower())
        if at >= 0 and all(at >= end or at + len(str(e["value"])) <= start for start, end, _ in spans):
            spans.append((at, at + len(str(e["value"])), e))
    out, last = [], 0
    for start, end, e in sorted(spans, key=lambda s: s[0]):
        out += [text[last:start], f"[{text[start:end]}]({e['entity']})"]
        last = end
    return "".join(out + [text[last:]]).replace("\n", " ")


@dataclass
class Review:
    sessions: sessionmaker[Session]

    def _conversation(self, s: Session, conversation_id: str) -> Conversation:
        found = s.get(Conversation, conversation_id)
        if found is None:
            raise ReviewError("no such conversation")
        return found

    def tags(self, conversation_id: str) -> list[str]:
        with self.sessions() as s:
            return list(s.scalars(select(ConversationTag.tag).where(ConversationTag.conversation_id == conversation_id)
                                  .order_by(ConversationTag.tag)))

    def add_tag(self, conversation_id: str, tag: str, user: str) -> None:
        tag = tag.strip().lower()
        if not TAG.match(tag):
            raise ReviewError("a tag is 1-40 lowercase letters, digits, spaces, '-' or '_'")
        with self.sessions() as s:
            self._conversation(s, conversation_id)
            if not s.scalar(select(ConversationTag.id).where(ConversationTag.conversation_id == conversation_id,
                                                             ConversationTag.tag == tag)):
                s.add(ConversationTag(conversation_id=conversation_id, tag=tag))
                audit.record(s, user, "conversation.tag", conversation_id, tag=tag)
                s.commit()

    def remove_tag(self, conversation_id: str, tag: str, user: str) -> None:
        with self.sessions() as s:
            s.execute(delete(ConversationTag).where(ConversationTag.conversation_id == conversation_id,
                                                    ConversationTag.tag == tag))
            audit.record(s, user, "conversation.untag", conversation_id, tag=tag)
            s.commit()

    def add_note(self, conversation_id: str, text: str, user: str) -> None:
        text = text.strip()
        if not 0 < len(text) <= 5000:
            raise ReviewError("a note is 1-5000 characters")
        with self.sessions() as s:
            self._conversation(s, conversation_id)
            s.add(ConversationNote(conversation_id=conversation_id, author=user, text=text))
            audit.record(s, user, "conversation.note", conversation_id)
            s.commit()

    def notes(self, conversation_id: str) -> list[ConversationNote]:
        with self.sessions() as s:
            return list(s.scalars(select(ConversationNote).where(ConversationNote.conversation_id == conversation_id)
                                  .order_by(ConversationNote.id)))

    def set_reviewed(self, conversation_id: str, reviewed: bool, user: str) -> None:
        with self.sessions() as s:
            conversation = self._conversation(s, conversation_id)
            conversation.reviewed_at = datetime.now(timezone.utc) if reviewed else None
            conversation.reviewed_by = user if reviewed else None
            audit.record(s, user, "conversation.reviewed" if reviewed else "conversation.unreviewed", conversation_id)
            s.commit()

    def correct(self, message_id: int, intent: str, entities: list[dict[str, Any]], user: str,
                known_intents: set[str]) -> MessageCorrection:
        if intent not in known_intents:
            raise ReviewError(f"unknown intent {intent!r}")
        with self.sessions() as s:
            message = s.get(Message, message_id)
            if message is None or message.author is not Author.shopper:
                raise ReviewError("only shopper messages can be corrected")
            correction = s.scalars(select(MessageCorrection).where(MessageCorrection.message_id == message_id)).first()
            if correction is None:
                correction = MessageCorrection(message_id=message_id, text=message.text, intent=intent,
                                               entities=entities, author=user)
                s.add(correction)
            else:
                correction.intent, correction.entities, correction.author = intent, entities, user
                correction.merged_at = None
            audit.record(s, user, "message.correct", f"message:{message_id}", intent=intent,
                         was=(message.nlu or {}).get("intent"))
            s.commit()
            return correction

    def corrections(self, conversation_id: str | None = None, unmerged_only: bool = False) -> list[MessageCorrection]:
        query = select(MessageCorrection).order_by(MessageCorrection.id)
        if conversation_id:
            query = query.join(Message, Message.id == MessageCorrection.message_id).where(
                Message.conversation_id == conversation_id)
        if unmerged_only:
            query = query.where(MessageCorrection.merged_at.is_(None))
        with self.sessions() as s:
            return list(s.scalars(query))

    @staticmethod
    def as_nlu_yaml(corrections: list[MessageCorrection]) -> str:
        """Rasa NLU training data: one block per intent, examples with inline entity markup; emails,
        phone numbers and postcodes are replaced (the export is read by agents and committed)."""
        by_intent: dict[str, list[str]] = {}
        for c in corrections:
            example = annotate(training_text(c.text), [training_entity(e) for e in c.entities])
            if example not in by_intent.setdefault(c.intent, []):
                by_intent[c.intent].append(example)
        blocks = [{"intent": intent, "examples": "".join(f"- {e}\n" for e in examples)}
                  for intent, examples in sorted(by_intent.items())]
        return yaml.safe_dump({"version": "3.1", "nlu": blocks}, sort_keys=False, allow_unicode=True, width=1000)

    def merge_into_training_data(self, user: str, path: Path = CORRECTIONS_FILE) -> int:
        """Append unmerged corrections to data/nlu/corrections.yml (kept valid Rasa YAML); returns how many."""
        pending = self.corrections(unmerged_only=True)
        if not pending:
            return 0
        existing = yaml.safe_load(path.read_text()) if path.exists() else None
        merged: list[MessageCorrection] = []
        for block in (existing or {}).get("nlu", []):  # keep what was merged before
            for line in str(block.get("examples", "")).splitlines():
                if line.startswith("- "):
                    merged.append(MessageCorrection(text=line[2:], intent=block["intent"], entities=[]))
        path.write_text(CORRECTIONS_HEADER + self.as_nlu_yaml(merged + pending))
        with self.sessions() as s:
            now = datetime.now(timezone.utc)
            for c in pending:
                s.get(MessageCorrection, c.id).merged_at = now
            audit.record(s, user, "nlu.merge_corrections", str(path.name), count=len(pending))
            s.commit()
        return len(pending)
