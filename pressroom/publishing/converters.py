"""URL converters for the public pages."""


class SlugConverter:
    """Any path segment but NUL: slugs made by `slugify(allow_unicode=True)` and whatever an
    import kept, while a NUL byte (which PostgreSQL refuses in text) never reaches a query,
    so such an address is a 404 rather than a database error."""

    regex = r"[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
