"""Full-text search over public articles: SQLite FTS5 or PostgreSQL, behind one interface.

Both databases ignore case and accents (FTS5's `remove_diacritics 2` tokenizer; PostgreSQL's
`pressroom_search` configuration, unaccent then English stemming), stem English words, take
quoted phrases, and cut the snippet with their own function (FTS5 `snippet()`, PostgreSQL
`ts_headline`) between sentinel characters that `highlight` turns into <mark> after escaping.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from pressroom.publishing.html import html_to_text
from pressroom.publishing.models import Article
from pressroom.search.models import SearchDocument, SearchTerm

INDEX_CHUNK = 1000
CONFIG = "pressroom_search"
# A reader's query: at most this many words or phrases, each word at most this long.
MAX_TERMS = 12
MAX_WORD = 40
# Snippet sentinels: control characters html_to_text strips from every indexed text, so the
# only ones in a snippet are those the database put around matched words.
START, STOP = "\x02", "\x03"
SNIPPET_WORDS = 24
# Counting stops here: "more than 1,000 results" tells a reader as much as an exact figure, and
# a common word would otherwise make every search count the whole index.
COUNT_CAP = 1000
# SQLite ranks (bm25) the newest this many matches of a query, and lists older ones after them.
RANKED = 1000
# SQLite lists a query newest first by walking the articles in date order, asking FTS5 about
# each, when it has at least this many matches (a fifth of the benchmark's 100,000 articles);
# below, sorting the matches is cheaper. Walking costs about 50 µs an article and visits
# (articles / matches) x a page of them: 1,000 matches of 100,000 walked 2,000 articles, up to
# 1.2 s, where sorting them took 2 ms; at 20,000 either takes about 20 ms (bench/search.py).
WALKED = 20_000
# "Did you mean": the nearest title word among this many candidates of about the same length
# and first letter, the most used first (bounded work whatever the vocabulary).
SUGGESTION_CANDIDATES = 2000
SUGGESTION_CUTOFF = 0.75

_WORD = re.compile(r"\w+")
_SENTINELS = re.compile(f"([{START}{STOP}])")
_TERM = re.compile(r'"([^"]*)"|(\w+)')


# --- Reading a reader's query ---------------------------------------------------------------------


def parse_query(text: str) -> list[list[str]]:
    """The query as terms, each a list of words: one word, or a quoted phrase of several.

    Only word characters survive, so nothing a reader types is query syntax to either database.
    """
    terms: list[list[str]] = []
    for phrase, word in _TERM.findall(text.lower()):
        words = [piece[:MAX_WORD] for piece in _WORD.findall(phrase or word)]
        if words:
            terms.append(words)
        if len(terms) == MAX_TERMS:
            break
    return terms


def _fts5_match(terms: list[list[str]]) -> str:
    """FTS5 query: each word or phrase in double quotes (a string to FTS5, never an operator);
    terms side by side must all match."""
    return " ".join('"' + " ".join(words) + '"' for words in terms)


def _websearch_text(terms: list[list[str]]) -> str:
    """The same terms for websearch_to_tsquery: words, and phrases in double quotes."""
    return " ".join(words[0] if len(words) == 1 else '"' + " ".join(words) + '"' for words in terms)


def unaccented(text: str) -> str:
    """Lower case without accents: Perú -> peru, as both databases' indexes see words."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(character for character in decomposed if not unicodedata.combining(character))


# --- Searching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """What a reader asks: words, filters, order. Dates are days, both ends included."""

    text: str
    topic_id: int | None = None
    author_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    newest_first: bool = False

    @property
    def terms(self) -> list[list[str]]:
        return parse_query(self.text)


def _day_start(day: date) -> Any:
    moment = timezone.make_aware(datetime.combine(day, time.min))
    return connection.ops.adapt_datetimefield_value(moment)


def _filters(search: Search, alias: str) -> tuple[str, list[Any]]:
    """SQL conditions on the index row `d` (article id `alias`): what readers may see, and the
    filters. The index holds public and scheduled articles only; the time tells which of them
    readers may see now (the two conditions of `published()`)."""
    sql = ["d.published_at <= %s"]
    params: list[Any] = [connection.ops.adapt_datetimefield_value(timezone.now())]
    if search.date_from:
        sql.append("d.published_at >= %s")
        params.append(_day_start(search.date_from))
    if search.date_to:
        sql.append("d.published_at < %s")
        params.append(_day_start(search.date_to + timedelta(days=1)))
    if search.topic_id is not None:
        sql.append(
            "EXISTS (SELECT 1 FROM publishing_articletopic t"  # noqa: S608 (alias is ours)
            f" WHERE t.article_id = {alias} AND t.topic_id = %s)"
        )
        params.append(search.topic_id)
    if search.author_id is not None:
        sql.append(
            "EXISTS (SELECT 1 FROM publishing_articleauthor w"  # noqa: S608 (alias is ours)
            f" WHERE w.article_id = {alias} AND w.author_id = %s)"
        )
        params.append(search.author_id)
    return " AND ".join(sql), params


def _matching_sql(search: Search, terms: list[list[str]]) -> tuple[str, list[Any], str, str]:
    """FROM ... WHERE of the matching public articles, its parameters, the id expression and
    the relevance score (lower is better on SQLite, higher on PostgreSQL). Dates are read from the index's own small rows (`d`), never from
    the articles' large ones, however many articles match."""
    if connection.vendor == "postgresql":
        conditions, params = _filters(search, "d.article_id")
        return (
            f"FROM search_searchdocument d, websearch_to_tsquery('{CONFIG}', %s) q"
            f" WHERE d.document @@ q AND {conditions}",
            [_websearch_text(terms), *params],
            "d.article_id",
            # Ranked by the title and excerpt (A and B weights) only: ranking by the whole
            # vector would read every matching article's body vector back; articles matched
            # in the body alone follow, newest first.
            "ts_rank(d.heading, q)",
        )
    conditions, params = _filters(search, "f.rowid")
    return (
        # CROSS JOIN keeps SQLite's planner on the FTS5 match first (otherwise it may walk
        # the other table and ask FTS5 about each row).
        "FROM search_article_fts f CROSS JOIN search_searchdocument d ON d.article_id = f.rowid"
        f" WHERE search_article_fts MATCH %s AND {conditions}",
        [_fts5_match(terms), *params],
        "f.rowid",
        # bm25 weights: a hit in the title counts most, then the excerpt, then the body.
        "bm25(search_article_fts, 10.0, 4.0, 1.0)",
    )


def search_article_ids(search: Search | str, limit: int = 20, offset: int = 0) -> list[int]:
    """Ids of public articles matching `search`, best match (or newest) first."""
    if isinstance(search, str):
        search = Search(search)
    return find_articles(search, limit, offset)[0]


def find_articles(search: Search, limit: int, offset: int = 0) -> tuple[list[int], int | None]:
    """A page of ids, and the matches counted up to COUNT_CAP when the statement that found
    them counted them too (None otherwise: `count_article_matches` asks)."""
    statement = ids_sql(search, limit, offset, common=is_common(search), counted=True)
    if statement is None:
        return [], 0
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        rows = cursor.fetchall()
    ids = [row[0] for row in rows]
    if not rows or len(rows[0]) == 1:
        return ids, None
    count = rows[0][1]  # the ranked part's rows: min(RANKED, matches)
    return ids, (min(count, COUNT_CAP) if count < RANKED or RANKED >= COUNT_CAP else None)


def is_common(search: Search) -> bool:
    """Whether SQLite should list `search` newest first by walking the articles in date order
    (matches are many: the page fills in a few steps) rather than sorting every match (few):
    at least WALKED matches."""
    if connection.vendor != "sqlite" or not search.newest_first or not search.terms:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT rowid FROM search_article_fts"
            " WHERE search_article_fts MATCH %s LIMIT %s)",
            [_fts5_match(search.terms), WALKED],
        )
        return int(cursor.fetchone()[0]) >= WALKED


def ids_sql(
    search: Search, limit: int, offset: int = 0, *, common: bool = False, counted: bool = False
) -> tuple[str, list[Any]] | None:
    """The one statement that finds a page of ids (None when the query has no words).

    Best match ranks the RANKED newest matches only (bounded work however common the word:
    ranking reads each match's positions or vector), and lists older matches after them,
    newest first. Each part stops at the page's end, so no statement sorts every match. On
    PostgreSQL, whose ranked part is filtered already, the older part is asked for only by a
    page that can reach past the ranked ones (it would find the matches again for nothing), and
    `counted` adds the ranked part's size to each row (the matches, up to RANKED) for free; on
    PostgreSQL newest first too reads the RANKED newest matches then, to count them."""
    terms = search.terms
    if not terms:
        return None
    from_where, params, id_column, score = _matching_sql(search, terms)
    newest = f"d.published_at DESC, {id_column} DESC"
    if search.newest_first and common:
        conditions, condition_params = _filters(search, "d.article_id")
        return (
            "SELECT d.article_id FROM search_searchdocument d"  # noqa: S608 (fixed SQL)
            f" WHERE {conditions} AND EXISTS (SELECT 1 FROM search_article_fts"
            " WHERE search_article_fts MATCH %s AND rowid = d.article_id)"
            " ORDER BY d.published_at DESC, d.article_id DESC LIMIT %s OFFSET %s",
            [*condition_params, params[0], limit, offset],
        )
    end = limit + offset
    if search.newest_first and counted and connection.vendor == "postgresql" and end <= RANKED:
        # The RANKED newest matches, counted as they are read: the count's own query took
        # longer than the page (its bitmap holds every match of a common word; bench search).
        # MATERIALIZED: planned for up to RANKED rows, not for the page's few. Planned for
        # those, a word the statistics guess at a few hundred matches but that has none walked
        # every article by date (0.4 s at 100,000), where the index of words finds it at once.
        return (
            f"WITH c AS MATERIALIZED (SELECT {id_column} AS id, d.published_at"  # noqa: S608 (fixed SQL)
            f" {from_where} ORDER BY {newest} LIMIT %s)"
            " SELECT id, count(*) OVER () FROM c"
            " ORDER BY published_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, RANKED, limit, offset],
        )
    if search.newest_first:
        return (
            f"SELECT {id_column} {from_where} ORDER BY {newest} LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    if connection.vendor == "sqlite":
        # Newest by article id, the FTS5 table's own order (reading no other row): the first
        # id of the ranked part.
        boundary = (
            "(SELECT coalesce((SELECT rowid FROM search_article_fts WHERE search_article_fts"
            " MATCH %s ORDER BY rowid DESC LIMIT 1 OFFSET %s), 0))"
        )
        ranked = (
            f"SELECT {id_column} AS id, 0 AS tier, {score} AS score {from_where}"
            f" AND f.rowid >= {boundary} ORDER BY score, f.rowid DESC LIMIT %s"
        )
        older = (
            f"SELECT {id_column} AS id, 1 AS tier, 0 AS score {from_where}"
            f" AND f.rowid < {boundary} ORDER BY f.rowid DESC LIMIT %s"
        )
        both = [*params, params[0], RANKED - 1, end]
        return (
            f"SELECT id FROM (SELECT * FROM ({ranked}) UNION ALL SELECT * FROM ({older}))"  # noqa: S608 (fixed SQL, values as parameters)
            " ORDER BY tier, score, id DESC LIMIT %s OFFSET %s",
            [*both, *both, limit, offset],
        )
    candidates = (
        f"SELECT {id_column} AS id, d.heading, d.published_at {from_where} ORDER BY {newest}"
    )
    ranked = (
        "SELECT c.id, 0 AS tier, ts_rank(c.heading, q) AS score, c.published_at"  # noqa: S608 (fixed SQL)
        f" FROM ({candidates} LIMIT %s) c, websearch_to_tsquery('{CONFIG}', %s) q"
    )
    page_order = "score DESC, published_at DESC, id DESC"
    if end <= RANKED:
        # The ranked part holds min(RANKED, matches) rows: enough for a page ending here.
        count = ", count(*) OVER ()" if counted else ""
        return (
            f"SELECT id{count} FROM ({ranked}) page ORDER BY {page_order} LIMIT %s OFFSET %s",  # noqa: S608 (fixed SQL)
            [*params, RANKED, params[0], limit, offset],
        )
    return (
        f"SELECT id FROM ("  # noqa: S608 (fixed SQL, values as parameters)
        f"SELECT * FROM ({ranked} ORDER BY {page_order} LIMIT %s) ranked"
        f" UNION ALL SELECT * FROM (SELECT c.id, 1, 0, c.published_at"
        f" FROM ({candidates} LIMIT %s OFFSET %s) c) older"
        f") page ORDER BY tier, score DESC, published_at DESC, id DESC LIMIT %s OFFSET %s",
        [*params, RANKED, params[0], end, *params, end, RANKED, limit, offset],
    )


def count_article_matches(search: Search | str, cap: int = COUNT_CAP) -> int:
    """How many public articles match `search`, counted up to `cap` (one bounded query)."""
    if isinstance(search, str):
        search = Search(search)
    terms = search.terms
    if not terms:
        return 0
    from_where, params, id_column, _ = _matching_sql(search, terms)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT {id_column} {from_where} LIMIT %s) AS matches",  # noqa: S608
            [*params, cap],
        )
        return int(cursor.fetchone()[0])


def highlight(snippet: str) -> SafeString:
    """The database's snippet escaped, then its sentinels turned into <mark> elements."""
    pieces = []
    opened = False
    for piece in _SENTINELS.split(escape(snippet)):
        if piece == START:
            if not opened:
                pieces.append("<mark>")
            opened = True
        elif piece == STOP:
            if opened:
                pieces.append("</mark>")
            opened = False
        else:
            pieces.append(piece)
    # A snippet cut inside a match leaves a sentinel unpaired: close what opened.
    if opened:
        pieces.append("</mark>")
    return mark_safe("".join(pieces))


def snippets(text: str, article_ids: Sequence[int]) -> dict[int, SafeString]:
    """A highlighted extract of each article's body around the words of `text`."""
    terms = parse_query(text)
    if not terms or not article_ids:
        return {}
    ids = list(article_ids)
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT d.article_id, ts_headline('{CONFIG}', d.text, q, %s)"  # noqa: S608
                f" FROM search_searchdocument d, websearch_to_tsquery('{CONFIG}', %s) q"
                f" WHERE d.article_id IN ({placeholders})",
                [
                    f"StartSel={START}, StopSel={STOP}, MaxWords={SNIPPET_WORDS + 6},"
                    f' MinWords={SNIPPET_WORDS // 2}, MaxFragments=2, FragmentDelimiter=" … "',
                    _websearch_text(terms),
                    *ids,
                ],
            )
        else:
            cursor.execute(
                "SELECT rowid, snippet(search_article_fts, 2, %s, %s, '…', %s)"  # noqa: S608
                " FROM search_article_fts WHERE search_article_fts MATCH %s"
                f" AND rowid IN ({placeholders})",
                [START, STOP, SNIPPET_WORDS, _fts5_match(terms), *ids],
            )
        return {
            article_id: highlight(snippet) for article_id, snippet in cursor.fetchall() if snippet
        }


def suggest(text: str) -> str:
    """A query like `text` with each unknown word replaced by the nearest indexed title word,
    if that query finds anything; "" when there is nothing better to offer."""
    terms = parse_query(text)
    if not terms:
        return ""
    changed = False
    suggested: list[list[str]] = []
    for words in terms:
        replaced = []
        for word in words:
            nearest = _nearest_term(unaccented(word))
            changed |= nearest != unaccented(word)
            replaced.append(nearest)
        suggested.append(replaced)
    if not changed:
        return ""
    query = _websearch_text(suggested)
    return query if search_article_ids(Search(query), limit=1) else ""


def _nearest_term(word: str) -> str:
    if len(word) < 3 or not word.isalpha() or SearchTerm.objects.filter(term=word).exists():
        return word
    candidates = list(
        SearchTerm.objects.filter(
            length__range=(len(word) - 2, len(word) + 2),
            term__gte=word[0],
            term__lt=chr(ord(word[0]) + 1),
        )
        .order_by("-documents")
        .values_list("term", flat=True)[:SUGGESTION_CANDIDATES]
    )
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=SUGGESTION_CUTOFF)
    return close[0] if close else word


# --- Writing the index --------------------------------------------------------------------------


Row = tuple[int, str, str, str, datetime | None]


def _public_articles(article_ids: Iterable[int] | None) -> Iterable[Row]:
    """(id, title, excerpt, body, published_at) of the public articles among `article_ids` (or all), those
    scheduled for later included: one goes public when its time comes, without a save that
    would index it then, and the search query checks `published_at` itself.
    Plain values: a batch of an import holds hundreds."""
    articles = Article.objects.filter(status__in=Article.PUBLIC_STATUSES)
    if article_ids is not None:
        articles = articles.filter(id__in=list(article_ids))
    return articles.values_list("id", "title", "excerpt", "body", "published_at").iterator(
        chunk_size=1000
    )


def _written_public_articles(article_ids: list[int], written: Sequence[Article]) -> Iterable[Row]:
    """What _public_articles reads, from the instances a write has just saved."""
    wanted = set(article_ids)
    for article in written:
        if article.pk in wanted and article.status in Article.PUBLIC_STATUSES:
            yield article.pk, article.title, article.excerpt, article.body, article.published_at


def _title_words(title: str, excerpt: str) -> set[str]:
    return {
        word
        for word in _WORD.findall(unaccented(f"{title} {excerpt}"))
        if 3 <= len(word) <= MAX_WORD and word.isalpha()
    }


def index_articles(
    article_ids: Iterable[int] | None = None, *, written: Sequence[Article] | None = None
) -> int:
    """(Re)index the given articles, or all; drop those no longer public. Returns rows indexed.

    `written`: the articles as a write has just saved them (see the articles_written signal),
    read from the instances rather than from the database again.
    A few statements per thousand articles on either database: imports index a batch at a time.
    """
    ids = None if article_ids is None else list(article_ids)
    if ids is None and connection.vendor == "postgresql":
        # A whole rebuild: emptied at once, and the GIN index built once over the new rows
        # (several times faster than keeping it up to date row by row). Searches wait for the
        # rebuild's commit: an operator's command, run after bulk changes.
        with connection.cursor() as cursor:
            # TRUNCATE and CREATE INDEX refuse while the transaction has foreign-key checks
            # pending (Django defers them): checked at once during the rebuild, deferred after.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE search_searchdocument")
            cursor.execute("DROP INDEX IF EXISTS search_document_gin")
        try:
            return _index(ids, written)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE INDEX IF NOT EXISTS search_document_gin"
                    " ON search_searchdocument USING gin (document)"
                )
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    remove_articles(ids)
    return _index(ids, written)


def _index(ids: list[int] | None, written: Sequence[Article] | None) -> int:
    # Each statement with the values it takes from an indexed row.
    statements: list[tuple[str, Callable[[Row], tuple[Any, ...]]]]
    if connection.vendor == "postgresql":
        # The weighted vector PostgreSQL computes from the three texts (what
        # SearchVector(Value(...), weight=...) builds, without the ORM statement per article),
        # the small title-and-excerpt vector that ranks, and the text snippets are cut from.
        statements = [
            (
                "INSERT INTO search_searchdocument"
                " (article_id, document, heading, text, published_at)"
                " SELECT id, heading || setweight(to_tsvector(%s::regconfig, body), 'C'),"
                " heading, body, published_at"
                " FROM (SELECT %s::integer AS id, %s::text AS body,"
                " %s::timestamptz AS published_at,"
                " setweight(to_tsvector(%s::regconfig, %s::text), 'A')"
                " || setweight(to_tsvector(%s::regconfig, %s::text), 'B') AS heading) AS row",
                lambda row: (CONFIG, row[0], row[3], row[4], CONFIG, row[1], CONFIG, row[2]),
            )
        ]
    else:
        # The FTS5 table holds the words; the small row beside it, the date to filter and
        # order by (its vector columns stay empty on SQLite).
        statements = [
            (
                "INSERT INTO search_article_fts (rowid, title, excerpt, body)"
                " VALUES (%s, %s, %s, %s)",
                lambda row: row[:4],
            ),
            (
                "INSERT INTO search_searchdocument (article_id, document, text, published_at)"
                " VALUES (%s, '', '', %s)",
                lambda row: (row[0], connection.ops.adapt_datetimefield_value(row[4])),
            ),
        ]

    def write(cursor: Any, rows: list[Row]) -> None:
        for sql, values in statements:
            cursor.executemany(sql, [values(row) for row in rows])

    count = 0
    rows: list[Row] = []
    words: Counter[str] = Counter()
    with connection.cursor() as cursor:
        articles = (
            _public_articles(ids)
            if ids is None or written is None
            else _written_public_articles(ids, written)
        )
        for article_id, title, excerpt, body, published_at in articles:
            rows.append((article_id, title, excerpt, html_to_text(body), published_at))
            words.update(_title_words(title, excerpt))
            if len(rows) == INDEX_CHUNK:
                write(cursor, rows)
                count, rows = count + len(rows), []
        if rows:
            write(cursor, rows)
    _add_terms(words, replace=ids is None)
    return count + len(rows)


def _add_terms(words: Counter[str], *, replace: bool) -> None:
    """Count the title words in the term table (all of them anew for a whole reindex)."""
    if replace:
        SearchTerm.objects.all().delete()
    if not words:
        return
    items = sorted(words.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), INDEX_CHUNK):
            chunk = items[start : start + INDEX_CHUNK]
            cursor.execute(
                "INSERT INTO search_searchterm (term, length, documents) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s)"] * len(chunk))
                + " ON CONFLICT (term) DO UPDATE"
                " SET documents = search_searchterm.documents + excluded.documents",
                [value for word, number in chunk for value in (word, len(word), number)],
            )


def remove_articles(article_ids: list[int] | None) -> None:
    documents = SearchDocument.objects.all()
    if article_ids is not None:
        documents = documents.filter(article_id__in=article_ids)
    documents._raw_delete(documents.db)  # no signals or cascades hang on index rows
    if connection.vendor == "postgresql":
        return
    with connection.cursor() as cursor:
        if article_ids is None:
            cursor.execute("DELETE FROM search_article_fts")
        else:
            for start in range(0, len(article_ids), 500):
                chunk = article_ids[start : start + 500]
                placeholders = ",".join(["%s"] * len(chunk))
                cursor.execute(
                    f"DELETE FROM search_article_fts WHERE rowid IN ({placeholders})",  # noqa: S608 (placeholders only)
                    chunk,
                )
