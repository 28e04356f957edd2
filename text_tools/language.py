"""Which messages the English-only model should not try to classify: other languages, emoji-only text."""
from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
LATIN_EXTRA = set("àáâäãåæçèéêëìíîïñòóôöõøœùúûüýÿß")
ENGLISH = set(
    "the a an and or but is are was were be to of in on for with my me i you your it this that these those "
    "what where when how why do does did can could would should will have has want need looking find show "
    "please thanks hi hello yes no not any some".split()
)
# Frequent function words that are not English words.
FOREIGN = {
    "de": set("ich du und nicht ist das die der ein eine mit für auf ich möchte haben bitte danke wo wie was "
              "kann suche schuhe mein meine bestellung".split()),
    "fr": set("je tu et est les des une un avec pour pas vous nous merci bonjour où comment quoi mon ma "
              "commande cherche voudrais".split()),
    "es": set("yo tú y es los las una un con para por gracias hola dónde donde cómo qué mi pedido quiero "
              "busco zapatos tienen".split()),
    "it": set("io e è il lo gli una con per grazie ciao dove come cosa mio ordine vorrei cerco".split()),
    "pt": set("eu você e é os uma um com para obrigado olá onde como meu pedido quero procuro".split()),
    "nl": set("ik jij en het een met voor niet bedankt hallo waar hoe wat mijn bestelling zoek wil".split()),
}
# What a lone emoji most plausibly means in a shop chat.
EMOJI_INTENTS = {
    "👍": "affirm", "👌": "affirm", "✅": "affirm", "🙆": "affirm",
    "👎": "deny", "❌": "deny", "🙅": "deny",
    "🙏": "thank", "❤️": "thank", "❤": "thank", "😍": "thank",
    "👋": "greet",
    "😡": "complain", "😠": "complain", "🤬": "complain",
}


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def emoji_intent(text: str) -> str | None:
    """The intent of an emoji-only message ("👍", "🙏🙏"), when its emoji agree on one."""
    intents = {EMOJI_INTENTS.get(ch) for ch in text if not ch.isspace() and ch not in "\ufe0f\u200d"}
    return intents.pop() if len(intents) == 1 and None not in intents else None


def is_foreign(text: str) -> bool:
    """True for text that is clearly not English (another script, or another language's function words)."""
    letters = [ch for ch in text.lower() if ch.isalpha()]
    if not letters:
        return False
    latin = sum(1 for ch in letters if "a" <= ch <= "z" or ch in LATIN_EXTRA)
    if latin / len(letters) < 0.5:
        return True
    words = WORD.findall(text.lower())
    english = sum(1 for w in words if w in ENGLISH)
    foreign = max(sum(1 for w in words if w in vocab) for vocab in FOREIGN.values())
    return foreign >= 2 and foreign > english


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the packaged encoder's WordPiece vocabulary (about 20,000 English words)."""
    from text_tools.encoder import model_path

    try:
        lines = (model_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, RuntimeError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and len(w) > 2)


def has_known_word(text: str, also: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether any word of the text is English or one of ``also`` ("blorp fnargle wibble" has none).
    True when the vocabulary is unavailable, so nothing is refused for want of it."""
    known = english_words()
    words = [w for w in WORD.findall(text.lower()) if len(w) > 2]
    return not known or not words or any(w in known or w in also for w in words)


def blank_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each (start, end) span replaced by spaces, so the other offsets stay valid."""
    return "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(text))
