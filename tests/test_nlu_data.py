"""The NLU training data reader, and the quality rules the shipped data must keep."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from aisle.config import REPO_ROOT
from nlu_models.data import EntitySpan, TrainingDataError, fingerprint, load_examples, load_file, parse_annotated

MIN_EXAMPLES_PER_INTENT = 80


@pytest.mark.parametrize("line, text, spans", [
    ("hi there", "hi there", ()),
    ("show me [red](color) shoes", "show me red shoes", (EntitySpan("color", "red", 8, 11),)),
    ("[two](quantity) of the [first](ordinal:1)", "two of the first",
     (EntitySpan("quantity", "two", 0, 3), EntitySpan("ordinal", "1", 11, 16))),
    ('under [$50]{"entity": "price_max", "value": "50"}', "under $50", (EntitySpan("price_max", "50", 6, 9),)),
])
def test_annotations_become_plain_text_and_spans(line, text, spans):
    example = parse_annotated(line, "x")
    assert example.text == text
    assert example.entities == spans
    surfaces = [part.split("]")[0] for part in line.split("[")[1:]]
    assert [text[span.start:span.end] for span in example.entities] == surfaces


def test_bad_files_raise_a_clear_error(tmp_path: Path):
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("nlu: [\n")
    with pytest.raises(TrainingDataError, match="not valid YAML"):
        load_file(bad_yaml)
    bad_line = tmp_path / "line.yml"
    bad_line.write_text("nlu:\n- intent: greet\n  examples: |\n    hello\n")
    with pytest.raises(TrainingDataError, match="must start with '- '"):
        load_file(bad_line)
    with pytest.raises(TrainingDataError, match="no NLU training files"):
        load_examples(tmp_path / "empty")


def test_fingerprint_changes_with_data_and_settings():
    a = [parse_annotated("hi", "greet")]
    b = [parse_annotated("hello", "greet")]
    assert fingerprint(a, {"C": 1}) == fingerprint(list(a), {"C": 1})
    assert fingerprint(a, {"C": 1}) != fingerprint(b, {"C": 1})
    assert fingerprint(a, {"C": 1}) != fingerprint(a, {"C": 2})


@pytest.fixture(scope="module")
def shipped() -> list:
    return load_examples(REPO_ROOT / "data" / "nlu")


@pytest.fixture(scope="module")
def domain() -> dict:
    return yaml.safe_load((REPO_ROOT / "domain.yml").read_text())


def test_every_contract_intent_has_enough_examples(shipped, domain):
    counts = Counter(ex.intent for ex in shipped)
    intents = [i for i in domain["intents"] if i != "nlu_fallback"]
    assert len(intents) == 21
    assert set(counts) == set(intents)
    thin = {i: n for i, n in counts.items() if n < MIN_EXAMPLES_PER_INTENT}
    assert not thin, f"intents with fewer than {MIN_EXAMPLES_PER_INTENT} examples: {thin}"


def test_no_two_examples_are_near_identical(shipped):
    """Same words in any order, ignoring case and punctuation, counts as a repeat."""
    def key(text: str) -> tuple[str, ...]:
        return tuple(sorted(re.findall(r"[a-z0-9$#@.'-]+", text.lower().replace("'", ""))))

    counts = Counter(key(ex.text) for ex in shipped)
    assert [" ".join(k) for k, n in counts.items() if n > 1] == []


def test_annotated_entities_are_declared_in_the_domain(shipped, domain):
    used = {span.entity for ex in shipped for span in ex.entities}
    assert used <= set(domain["entities"])
