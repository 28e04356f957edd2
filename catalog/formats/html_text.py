"""Shop descriptions arrive as HTML; search and the chat show plain text.

A real parser (the standard library's, as no HTML library is installed): block elements become line
breaks, list items become "- " bullets, entities are decoded, and scripts, styles and other
non-content elements are dropped with everything inside them.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
          "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol",
          "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul"}
DROPPED = {"script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title", "button",
           "select", "textarea"}
CELLS = {"td", "th"}
SPACES = re.compile(r"[ \t\f\v\r\n\u00a0]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.dropping = 0  # depth inside dropped elements

    def _break(self) -> None:
        line = SPACES.sub(" ", "".join(self.current)).strip()
        if line and line != "-":
            self.lines.append(line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED:
            self.dropping += 1
        elif self.dropping:
            return
        elif tag == "br" or tag in BLOCKS:
            if "".join(self.current).strip() != "-":  # <li><p>text</p></li>: the text keeps its bullet
                self._break()
        elif tag == "li":
            self._break()
            self.current.append("- ")
        elif tag in CELLS and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self.dropping:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED:
            self.dropping = max(0, self.dropping - 1)
        elif not self.dropping and (tag in BLOCKS or tag == "li"):
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.current.append(data)

    def text(self) -> str:
        self.close()
        self._break()
        return "\n".join(self.lines)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (plain text passes through, its entities decoded)."""
    parser = _TextExtractor()
    parser.feed(html)
    return parser.text()
