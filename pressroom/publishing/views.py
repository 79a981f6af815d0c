from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format

from pressroom.publishing import article_page, listings, oldaddresses, previews
from pressroom.publishing.links import slug_url_builder
from pressroom.publishing.middleware import old_address_response
from pressroom.publishing.models import Article, Page, Topic
from pressroom.publishing.pagination import QUERY_KEYS


def home(request: HttpRequest) -> HttpResponse:
    page = listings.latest_page(request.GET)
    # The first page opens with the stories editors chose; later pages are the newest only.
    front = listings.home_front(page.items) if page.is_first else None
    return render(
        request,
        "publishing/home.html",
        {
            "page": page,
            "canonical_query_keys": QUERY_KEYS,
            "front": front,
            "topic_sections": listings.home_topic_sections() if page.is_first else [],
        },
    )


def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = article_page.article_or_404(slug)
    is_preview = not article.is_public
    if is_preview and not request.user.has_perm("publishing.change_article"):
        raise Http404("No such article.")
    return render_article(request, article, is_preview=is_preview)


def render_article(
    request: HttpRequest, article: Article, *, is_preview: bool, preview_notice: str = ""
) -> HttpResponse:
    """The article page readers get; a preview is the same page, never stored by any cache
    (the page cache included: it keeps no private or no-store response) nor indexed."""
    return render_for_readers(
        request, article, is_preview=is_preview, preview_notice=preview_notice
    )


def page_detail(request: HttpRequest, path: str) -> HttpResponse:
    """A page (About, Contact...) at its path: one look-up on the unique path index. Any
    slug-shaped address comes here last, so when no page has it, it may be an old address
    (/2019/05/story/): answered here, before a 404 page is drawn for nothing."""
    page = Page.objects.at_path(path).first()
    if page is None:
        answer = oldaddresses.resolve_path(request)
        if answer is not None:
            return old_address_response(request, answer)
        raise Http404("No such page.")
    is_preview = not page.is_public
    if is_preview and not request.user.has_perm("publishing.change_page"):
        raise Http404("No such page.")
    return render_for_readers(request, page, is_preview=is_preview)


def render_for_readers(
    request: HttpRequest, shown: Article | Page, *, is_preview: bool, preview_notice: str = ""
) -> HttpResponse:
    """An article's or a page's public page; a preview is the same page, never stored by any
    cache (the page cache included: it keeps no private or no-store response) nor indexed."""
    context: dict[str, object] = {"is_preview": is_preview, "preview_notice": preview_notice}
    if isinstance(shown, Page):
        template, context["page"] = "publishing/page_detail.html", shown
    else:
        template, context["article"] = "publishing/article_detail.html", shown
        context["related_articles"] = article_page.related_articles(shown)
    response = render(request, template, context)
    if is_preview:
        response["X-Robots-Tag"] = "noindex"
        response["Cache-Control"] = "private, no-store"
    return response


def preview_link(request: HttpRequest, token: str) -> HttpResponse:
    """A signed, expiring link to an article not (or not yet so) visible to readers."""
    try:
        kind, pk = previews.read_token(token)
    except previews.PreviewLinkExpired:
        return _preview_refused(request, 410, "This preview link has expired.")
    except previews.PreviewLinkInvalid:
        return _preview_refused(request, 403, "This preview link is not valid.")
    shown = previews.for_link(kind, pk)
    if shown is None:
        return _preview_refused(request, 410, f"The {kind} this link previewed has been deleted.")
    previewed, is_pending = shown
    if is_pending:
        notice = "Preview of changes not yet published; readers still see the current version."
    elif previewed.is_public:
        notice = f"Preview link: this {kind} is published."
    else:
        notice = f"Preview: this {kind} is a {previewed.get_status_display().lower()}, not visible to readers."
    return render_for_readers(request, previewed, is_preview=True, preview_notice=notice)


def _preview_refused(request: HttpRequest, status: int, message: str) -> HttpResponse:
    response = render(
        request,
        "publishing/preview_refused.html",
        {"message": message, "is_error_page": True},
        status=status,
    )
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"
    return response


def topic_list(request: HttpRequest) -> HttpResponse:
    return render(request, "publishing/topic_list.html", {"topics": Topic.objects.order_by("name")})


def topic_detail(request: HttpRequest, slug: str) -> HttpResponse:
    topic = listings.topic_or_404(slug)
    page = listings.topic_page(topic, request.GET)
    feed_url = slug_url_builder("publishing:topic-feed")(topic.slug)
    return render(
        request,
        "publishing/topic_detail.html",
        {
            "topic": topic,
            "page": page,
            "topic_feed_url": feed_url,
            "canonical_query_keys": QUERY_KEYS,
        },
    )


def author_detail(request: HttpRequest, slug: str) -> HttpResponse:
    author = listings.author_or_404(slug)
    page = listings.author_page(author, request.GET)
    return render(
        request,
        "publishing/author_detail.html",
        {"author": author, "page": page, "canonical_query_keys": QUERY_KEYS},
    )


def date_archive(
    request: HttpRequest, year: int, month: int | None = None, day: int | None = None
) -> HttpResponse:
    """The articles of a year, month or day (WordPress's /2021/06/ leads here)."""
    try:
        start, end = listings.date_range(year, month, day)
    except (ValueError, OverflowError):
        raise Http404("No such date.") from None
    page = listings.dated_page(start, end, request.GET)
    if day is not None:
        heading = date_format(start, "DATE_FORMAT")
    elif month is not None:
        heading = date_format(start, "YEAR_MONTH_FORMAT")
    else:
        heading = str(year)
    return render(
        request,
        "publishing/date_archive.html",
        {"heading": heading, "page": page, "canonical_query_keys": QUERY_KEYS},
    )


def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /digest/confirm/",
        "Disallow: /digest/preferences/",
        "Disallow: /preview/",
        f"Sitemap: {settings.SITE_URL}/sitemap.xml",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


def correction_list(request: HttpRequest) -> HttpResponse:
    """Every correction and update told to readers, newest first (with its own feed)."""
    page = listings.corrections_page(request.GET)
    return render(
        request,
        "publishing/correction_list.html",
        {"page": page, "canonical_query_keys": QUERY_KEYS},
    )
