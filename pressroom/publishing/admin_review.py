"""The admin's review: the editors' queue, the review panel's steps, and who may do what.

A mixin for ArticleAdmin. Publishing (and so reviewing) is one permission,
Article.PUBLISH_PERMISSION, held by the Editor and Administrator roles; without it a person is
a contributor: they reach only the articles they created, change only their drafts, and submit
them for review (docs/editing.md, "Contributors and review").
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from pressroom.publishing import services
from pressroom.publishing.models import Article, ArticleStateError, Author, ReviewComment


class ReviewForm(forms.Form):
    """A step of the review, from the panel under an article's form."""

    action = forms.ChoiceField(
        choices=[("comment", "Comment"), ("send_back", "Send back"), ("publish", "Publish")]
    )
    text = forms.CharField(required=False, max_length=ReviewComment.MAX_TEXT)


def review_flags(article: Article, own_author_ids: set[int] | None = None) -> list[str]:
    """What an editor should see before publishing a contributor's article and might miss in
    the form: a byline naming someone other than the writer's own author profile, and a
    canonical URL (which sends search engines elsewhere)."""
    if own_author_ids is None:
        own_author_ids = set(
            Author.objects.filter(user=article.created_by_id).values_list("pk", flat=True)
            if article.created_by_id
            else []
        )
    flags = []
    others = [author.name for author in article.bylines if author.pk not in own_author_ids]
    if article.created_by_id and others:
        flags.append("Byline names someone other than its writer: " + ", ".join(others))
    if article.canonical_url:
        flags.append(f"Canonical URL (search engines credit this address): {article.canonical_url}")
    return flags


class ReviewAdminMixin:
    """The review queue (/admin/publishing/article/review-queue/), the review panel's steps
    (<id>/review/), and the permission rules that keep contributors to their own drafts."""

    admin_site: Any
    opts: Any

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        own = [
            path(
                "review-queue/",
                wrap(self.review_queue_view),
                name="publishing_article_review_queue",
            ),
            path(
                "<path:object_id>/review/",
                wrap(require_POST(self.review_view)),
                name="publishing_article_review",
            ),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    # Who may do what.

    def has_publish_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Publish, schedule, unpublish, review: the Editor role, not a Contributor."""
        return request.user.has_perm(Article.PUBLISH_PERMISSION)

    def _reaches(self, request: HttpRequest, obj: Any) -> bool:
        """An editor reaches every article; a contributor their own drafts."""
        return (
            obj is None
            or self.has_publish_permission(request)
            or obj.is_editable_by_contributor(request.user)
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)  # type: ignore[misc]
        return allowed and self._reaches(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)  # type: ignore[misc]
        return allowed and self._reaches(request, obj)

    def get_queryset(self, request: HttpRequest) -> Any:
        articles = super().get_queryset(request)  # type: ignore[misc]
        if not self.has_publish_permission(request):
            # A contributor's list, search, revisions and previews hold their own work only.
            articles = articles.filter(created_by=request.user.pk)
        return articles

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and not self.has_change_permission(request, obj):
            # Read only (a contributor's article in review, or published): what it says.
            return [
                (None, {"fields": ["title", "status_label", "byline", "topic_names"]}),
                (None, {"fields": ["editor_excerpt", "body_shown"]}),
            ]
        if self.has_publish_permission(request):
            return super().get_fieldsets(request, obj)  # type: ignore[misc]
        # A contributor: no status or publication time (editors publish), and a note for them.
        hidden = {"status", "published_at", "pending_number"}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in super().get_fieldsets(request, obj)  # type: ignore[misc]
        ] + [("Review", {"fields": ["review_note"]})]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = dict(
            super().get_changeform_initial_data(request)  # type: ignore[misc]
        )
        # Writing as oneself: the author profile linked to this account starts the byline.
        own_author = Author.objects.filter(user=request.user.pk).first()
        if own_author is not None and "authors_chosen" not in initial:
            initial["authors_chosen"] = [own_author.pk]
        return initial

    @admin.display(description="Topics")
    def topic_names(self, article: Article) -> str:
        return ", ".join(topic.name for topic in article.topics.all())

    @admin.display(description="Body")
    def body_shown(self, article: Article) -> SafeString:
        # Cleaned by the one write path (services.prepare_article), as the public page shows it.
        return mark_safe(article.body)

    # Review.

    def review_queue_view(self, request: HttpRequest) -> HttpResponse:
        """The articles waiting for an editor, the longest waiting first."""
        if not self.has_publish_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Review queue",
        }
        articles = list(Article.objects.review_queue())
        own: dict[int, set[int]] = {}
        for author_id, user_id in Author.objects.filter(
            user__in={article.created_by_id for article in articles}
        ).values_list("pk", "user"):
            own.setdefault(user_id, set()).add(author_id)
        # What the queue's "Check" column shows for each article (review_flags).
        context["articles"] = [
            (article, review_flags(article, own.get(article.created_by_id or 0, set())))
            for article in articles
        ]
        return TemplateResponse(request, "admin/publishing/article/review_queue.html", context)

    def review_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Comment (the writer or an editor), send back or publish (an editor)."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        # A contributor's queryset holds their own articles only: anyone else's is not found.
        article = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if article is None:
            raise Http404("No such article.")
        form = ReviewForm(request.POST)
        change_url = reverse("admin:publishing_article_change", args=[article.pk])
        if not form.is_valid():
            first = next(iter(form.errors.values()))[0]
            messages.error(request, f"Nothing was done: {first}")
            return HttpResponseRedirect(change_url)
        action, text = form.cleaned_data["action"], form.cleaned_data["text"]
        if action != "comment" and not self.has_publish_permission(request):
            raise PermissionDenied
        try:
            if action == "comment":
                services.comment_on_article(
                    article,
                    by=request.user,
                    comment=text,
                    as_writer=not self.has_publish_permission(request),
                )
                done = "Your comment is added; the other side of the review is emailed."
            elif action == "send_back":
                services.send_back_article(article, by=request.user, comment=text)
                done = "Sent back to its writer as a draft, with your comment (emailed)."
            else:
                # The service reads the article's state afresh under a lock: a send-back or
                # publication from another page since this one was loaded is not overridden.
                services.publish_article(article, by=request.user, comment=text, from_review=True)
                done = "Published: readers see it now, and its writer is told."
        except ArticleStateError as error:
            messages.error(request, f"Nothing was done: {error}")
        else:
            messages.success(request, done)
        return HttpResponseRedirect(change_url)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra = dict(extra_context or {})
        if self.has_publish_permission(request):
            extra["review_count"] = Article.objects.filter(status=Article.Status.IN_REVIEW).count()
        return super().changelist_view(request, extra)  # type: ignore[misc]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        can_publish = self.has_publish_permission(request)
        context.update(
            can_submit=not can_publish
            and (obj is None or self.has_change_permission(request, obj)),
            can_review=can_publish and obj is not None and obj.is_in_review,
            review_comments=list(
                obj.review_comments.select_related("created_by") if obj is not None else []
            ),
            review_text_limit=ReviewComment.MAX_TEXT,
            # Pending changes are an editor's, beside what readers see (services refuses others).
            can_keep_pending=can_publish
            and obj is not None
            and obj.status in Article.PUBLIC_STATUSES
            and self.has_change_permission(request, obj),
            can_comment=obj is not None and (can_publish or services.writer_may_comment(obj)),
            review_flags=review_flags(obj) if obj is not None and can_publish else [],
        )
        return super().render_change_form(  # type: ignore[misc]
            request, context, add, change, form_url, obj
        )
