"""Helpers for reading rendered pages in tests: the first focusable element, landmarks."""

from __future__ import annotations

from html.parser import HTMLParser

FOCUSABLE = {"a", "button", "input", "select", "textarea", "summary", "iframe"}


class PageOutline(HTMLParser):
    """Records the first focusable element and the landmarks of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.first_focusable: tuple[str, dict[str, str | None], str] | None = None
        self._capturing = False
        self._text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        focusable = (tag in FOCUSABLE and (tag != "a" or "href" in attributes)) or (
            attributes.get("tabindex") not in (None, "-1")
        )
        if focusable and self.first_focusable is None and attributes.get("type") != "hidden":
            self.first_focusable = (tag, attributes, "")
            self._capturing = True

    def handle_endtag(self, tag: str) -> None:
        if self._capturing and self.first_focusable and tag == self.first_focusable[0]:
            self._capturing = False
            tag_name, attributes, _ = self.first_focusable
            self.first_focusable = (tag_name, attributes, " ".join("".join(self._text).split()))

    def handle_data(self, data: str) -> None:
        if self._capturing:
            self._text.append(data)

    def elements(self, tag: str) -> list[dict[str, str | None]]:
        return [attributes for name, attributes in self.tags if name == tag]


def outline(html: str) -> PageOutline:
    parser = PageOutline()
    parser.feed(html)
    parser.close()
    return parser
