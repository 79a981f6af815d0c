"""The search index: one row per public article, in the form the database searches fastest.

On PostgreSQL a weighted tsvector with a GIN index; on SQLite an FTS5 table (created by the
migration) whose rowid is the article id. `pressroom.search.backends` hides the difference.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class SearchDocument(models.Model):
    """PostgreSQL's index row. Unused on SQLite, where the FTS5 table plays this part."""

    article = models.OneToOneField(
        "publishing.Article", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    document = SearchVectorField()
    # Title and excerpt only: small enough to stay in the row, so ranking thousands of matches
    # of a common word does not read every article's whole vector back from TOAST storage.
    heading = SearchVectorField(null=True)
    # The body as plain text, which ts_headline cuts the result's snippet from.
    text = models.TextField(blank=True, db_default="")
    # The article's publication time, copied so that a search filters and orders by date in
    # the index's own small rows (on SQLite too, beside the FTS5 table), never reading back
    # the articles' large rows for thousands of matches.
    published_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            GinIndex(fields=["document"], name="search_document_gin"),
            models.Index(fields=["-published_at", "-article"], name="search_document_newest"),
        ]

    def __str__(self) -> str:
        return f"search document for article {self.article_id}"


class SearchTerm(models.Model):
    """A word of the index's titles and excerpts, unaccented and lower case, with roughly how
    many articles use it: where "did you mean" looks for the nearest word to a misspelling
    (the same on both databases; FTS5's own vocabulary holds stems, not words to show)."""

    term = models.CharField(max_length=40, unique=True)
    length = models.PositiveSmallIntegerField()
    documents = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["length", "term"], name="search_term_length")]

    def __str__(self) -> str:
        return self.term
