"""The knowledge base: versions and restore, whole-file import validation, export, hot reload, line
endings, similar entries and close calls between entries."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from aisle import migrate
from aisle.db import session_factory
from aisle.models import AuditEvent, FaqEntry, FaqStatus
from knowledge.kb import KnowledgeBase, NotFound
from knowledge.records import EntryData, ImportRejected, parse
from knowledge.retrieval import AMBIGUOUS_MARGIN, ANSWER_AT, DUPLICATE_AT, FaqIndex, FaqRetriever, plain_policy_words


@pytest.fixture
def kb(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    migrate.upgrade(url)
    return KnowledgeBase(session_factory(url))


def data(question="Do you ship to Canada?", answer="Yes.", **extra) -> EntryData:
    return EntryData(question=question, answer=answer, category="shipping", **extra)


def test_every_change_is_a_version_with_author_and_any_version_restores(kb):
    entry = kb.create(data(), "alice")
    kb.update(entry.id, data(answer="Yes, in 5-8 days."), "bob")
    kb.set_status(entry.id, FaqStatus.published, "alice")
    versions = kb.versions(entry.id)
    assert [(v.version, v.author) for v in versions] == [(3, "alice"), (2, "bob"), (1, "alice")]
    assert versions[0].summary == "status → published"
    [change] = kb.diff(entry.id, 1, 2)
    assert change.field == "answer" and "-Yes." in change.diff and "+Yes, in 5-8 days." in change.diff

    restored = kb.restore(entry.id, 1, "carol")
    assert (restored.version, restored.answer, restored.status) == (4, "Yes.", FaqStatus.draft)
    assert kb.versions(entry.id)[0].summary == "restored version 1"
    with kb.sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["faq.create", "faq.update", "faq.update", "faq.restore"]


def test_saving_without_changes_makes_no_version(kb):
    entry = kb.create(data(), "alice")
    kb.update(entry.id, data(), "bob")
    assert len(kb.versions(entry.id)) == 1
    with pytest.raises(NotFound):
        kb.restore(entry.id, 7, "bob")


GOOD_YAML = """entries:
- question: Do you ship to Canada?
  answer: "Yes, **in 5-8 days**."
  category: Shipping
  alternatives: ["Can I order from Toronto?"]
  tags: [international]
  status: published
"""


def test_yaml_and_csv_import_and_export_round_trip(kb):
    counts = kb.import_rows(parse(GOOD_YAML, "yaml"), "alice", "kb.yml")
    assert counts == {"created": 1, "updated": 0, "unchanged": 0}
    exported_csv = kb.export("csv")
    assert kb.import_rows(parse(exported_csv, "csv"), "alice", "kb.csv") == {"created": 0, "updated": 0,
                                                                            "unchanged": 1}
    assert kb.import_rows(parse(kb.export("yaml"), "yaml"), "alice", "kb.yml")["unchanged"] == 1
    [entry] = kb.entries()
    assert (entry.category, entry.alternatives, entry.status) == ("shipping", ["Can I order from Toronto?"],
                                                                  FaqStatus.published)


def test_a_bad_file_reports_every_problem_by_line_and_writes_nothing(kb):
    bad_csv = ("question,answer,category,status,anwser\n"
               "Do you ship?,Yes,shipping,published,\n")
    with pytest.raises(ImportRejected) as err:
        parse(bad_csv, "csv")
    assert "line 2: unknown column(s) 'anwser'" in str(err.value.problems[0])

    bad_csv = ("question,answer,category,status\n"
               "Do you ship?,Yes,shipping,published\n"
               ",No question,shipping,draft\n"
               "Do you ship?,Again,shipping,draft\n"
               "Gift cards?,Yes,gift cards,live\n")
    with pytest.raises(ImportRejected) as err:
        parse(bad_csv, "csv")
    assert [str(p) for p in err.value.problems] == [
        "line 3: 'question' is required",
        "line 4: the question 'Do you ship?' is also on line 2",
        "line 5: 'status' must be draft, published or archived, not 'live'",
    ]
    with pytest.raises(ImportRejected) as err:
        parse("entries:\n- question: [unclosed\n", "yaml")
    assert "not valid YAML" in str(err.value.problems[0])
    assert kb.entries() == []


def test_an_import_naming_an_unknown_id_applies_nothing(kb):
    rows = parse("id,question,answer,category\n,New one,Yes,shipping\n999,Old one,No,shipping\n", "csv")
    with pytest.raises(ImportRejected) as err:
        kb.import_rows(rows, "alice", "kb.csv")
    assert str(err.value.problems[0]) == "line 3: there is no entry with id 999 to update"
    assert kb.entries() == []


def fake_encoder(texts: list[str]) -> np.ndarray:
    """Bag-of-letters vectors: enough to tell entries apart, and fast."""
    out = np.zeros((len(texts), 384), np.float32)
    for i, t in enumerate(texts):
        for ch in t.lower():
            out[i, ord(ch) % 384] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_the_retriever_follows_published_changes_without_a_restart(kb):
    retriever = FaqRetriever(kb.sessions, encode=fake_encoder, negatives=["what is the weather"])
    assert retriever.answer("ship to canada").best is None  # nothing published yet
    entry = kb.create(data(), "alice")
    assert retriever.answer("ship to canada").best is None  # drafts are not served
    kb.set_status(entry.id, FaqStatus.published, "alice")
    assert retriever.answer("ship to canada").best.answer == "Yes."
    kb.update(entry.id, data(answer="Yes, in 5-8 days.", status=FaqStatus.published), "bob")
    assert retriever.answer("ship to canada").best.answer == "Yes, in 5-8 days."
    kb.set_status(entry.id, FaqStatus.archived, "bob")
    assert retriever.answer("ship to canada").best is None


def test_demo_seed_is_published_and_only_once(kb):
    assert kb.seed_demo() >= 60
    assert kb.seed_demo() == 0
    with kb.sessions() as s:
        statuses = set(s.scalars(select(FaqEntry.status)))
    assert statuses == {FaqStatus.published}
    assert len(kb.categories()) == 10


def test_windows_and_old_mac_line_breaks_become_newlines_wherever_an_entry_comes_in(kb):
    """Finding: answers saved with \\r\\n rendered as literal "- item" lines in the widget."""
    csv_file = ('question,answer,category,alternatives\r\n'
                '"Which cards?","We take:\r\n- Visa\r\n- Amex","payments","Do you take\r\namex?"\r\n')
    [row] = parse(csv_file, "csv")
    assert (row.data.answer, row.data.alternatives) == ("We take:\n- Visa\n- Amex", ["Do you take\namex?"])
    [row] = parse('entries:\n- question: "Gift\\r\\nwrap?"\n  answer: "Yes:\\r- paper\\r- ribbon"\n'
                  '  category: gifts\n', "yaml")
    assert (row.data.question, row.data.answer) == ("Gift\nwrap?", "Yes:\n- paper\n- ribbon")
    kb.import_rows(parse(csv_file, "csv"), "alice", "kb.csv")
    [entry] = kb.entries()
    assert "\r" not in entry.answer + "".join(entry.alternatives)


def test_the_migration_normalises_entries_already_stored_as_a_new_version(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(migrate.alembic_config(url), "3c1e0a7d9b52")  # the schema before the fix
    sessions = session_factory(url)
    with sessions() as s:
        crlf = FaqEntry(question="Which cards?", answer="We take:\r\n- Visa\r\n- Amex", category="payments",
                        alternatives=["Do you take\ramex?"], tags=[], status=FaqStatus.published, version=1)
        clean = FaqEntry(question="Gift wrap?", answer="Yes:\n- paper", category="gifts", alternatives=[], tags=[],
                         status=FaqStatus.published, version=1)
        s.add_all([crlf, clean])
        s.commit()
        crlf_id, clean_id = crlf.id, clean.id
    migrate.upgrade(url)
    migrate.upgrade(url)  # already at head: nothing runs twice
    kb = KnowledgeBase(sessions)
    fixed, untouched = kb.get(crlf_id), kb.get(clean_id)
    assert (fixed.answer, fixed.alternatives, fixed.version) == ("We take:\n- Visa\n- Amex", ["Do you take\namex?"], 2)
    [version] = kb.versions(crlf_id)
    assert (version.author, version.snapshot["answer"], version.snapshot["status"]) == (
        "migration", "We take:\n- Visa\n- Amex", "published")
    assert (untouched.version, kb.versions(clean_id)) == (1, [])
    with sessions() as s:
        [event] = s.scalars(select(AuditEvent)).all()
    assert (event.action, event.target, event.detail["fields"]) == ("faq.update", f"faq:{crlf_id}",
                                                                    ["alternatives", "answer"])


def gift_wrap_index(second_answer: str) -> FaqIndex:
    """Two entries for one question (no alternatives, so confidence is the raw score: no calibrator)."""
    entries = [{"id": 1, "question": "Do you offer gift wrapping?", "alternatives": [], "tags": ["gift"],
                "answer": "Gift wrapping is $4.99 per item."},
               {"id": 2, "question": "Do you offer gift wrapping?", "alternatives": [], "tags": ["gift"],
                "answer": second_answer},
               {"id": 3, "question": "How do I reset my password?", "alternatives": [], "tags": [],
                "answer": "Use the Forgot password link."}]
    return FaqIndex(entries, fake_encoder, [])


def test_two_close_entries_with_different_answers_get_did_you_mean_not_an_answer():
    """Finding: with entries saying $5 and $4.99 the bot answered either one with 0.95 confidence."""
    result = gift_wrap_index("Gift wrapping costs $5 per item.").query("do you offer gift wrapping")
    assert result.confidence >= ANSWER_AT  # confident about the question, but not about which answer
    assert result.matches[0].score - result.matches[1].score < AMBIGUOUS_MARGIN
    assert (result.kind, result.ambiguous) == ("suggest", True)
    assert {m.entry_id for m in result.matches[:2]} == {1, 2}
    assert result.as_dict()["ambiguous"] is True

    same = gift_wrap_index("Gift  wrapping is $4.99 per item.").query("do you offer gift wrapping")
    assert (same.kind, same.ambiguous) == ("answer", False)  # either entry says the same: just answer
    clear = gift_wrap_index("Gift wrapping costs $5 per item.").query("how do i reset my password")
    assert (clear.kind, clear.best.entry_id, clear.ambiguous) == ("answer", 3, False)


def test_similar_entries_are_scored_like_questions_and_exclude_the_entry_itself(kb):
    retriever = FaqRetriever(kb.sessions, encode=fake_encoder, negatives=["what is the weather"])
    assert retriever.similar(["Do you offer gift wrapping?"]) == []  # nothing published
    gift = kb.create(data("Can I send a gift with a message or gift wrap?", "Gift wrapping is $4.99.",
                          alternatives=["Do you offer gift wrapping?"], status=FaqStatus.published), "alice")
    kb.create(data("How do I reset my password?", "Use the Forgot password link.", status=FaqStatus.published),
              "alice")
    best, other = retriever.similar(["How much does gift wrapping cost?", "Do you offer gift wrapping?"])
    assert best.entry_id == gift.id and best.score >= DUPLICATE_AT and best.score > other.score
    assert best.score == pytest.approx(retriever.answer("Do you offer gift wrapping?").best.score)
    assert gift.id not in {m.entry_id for m in retriever.similar(["Do you offer gift wrapping?"], gift.id)}


@pytest.mark.parametrize("said, asked", [
    ("if they don't fit can I send them back?", "if they don't fit can I return them?"),
    ("can i post it back for free", "can i return it for free"),
    ("when do i get my money back", "when do i get a refund"),
    ("my parcel came smashed", "my package came damaged"),
    ("how do i track my order", "how do i track my order"),
])
def test_shoppers_words_for_a_policy_become_the_articles(said, asked):
    assert plain_policy_words(said) == asked
