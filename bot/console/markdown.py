"""Answers are Markdown; the console previews them as HTML with raw HTML disabled (so it is escaped)
and only safe link schemes, the same subset the chat widget renders."""
from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render(text: str) -> Markup:
    return Markup(_MD.render(text))  # noqa: S704 (html disabled: every tag in the text is escaped)
