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

    class Meta:
        indexes = [GinIndex(fields=["document"], name="search_document_gin")]

    def __str__(self) -> str:
        return f"search document for article {self.article_id}"
