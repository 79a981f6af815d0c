"""The admin's revision pages: list, compare, preview, restore; pending changes; preview links.

A mixin for the ModelAdmin of anything that keeps revisions (articles and pages): the pages
below, and the change form's "Save as pending change" (the form's save_model decides what a
pending save writes; `saves_pending` tells it). Seeing revisions needs the model's view
permission, acting on them its change permission: the Editor and Administrator roles hold
both, the other roles neither.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from pressroom.publishing import diffs, previews, revisions, services
from pressroom.publishing.models import ArticleStateError, Revision
from pressroom.publishing.views import render_for_readers

REVISIONS_SHOWN = 500
# The submit button that keeps changes as a pending revision instead of saving them.
SAVE_PENDING = "_save_pending"


def saves_pending(request: HttpRequest, change: bool) -> bool:
    """The editor pressed "Save as pending change" on an existing article or page."""
    return change and SAVE_PENDING in request.POST


class CompareForm(forms.Form):
    old = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    new = forms.IntegerField(min_value=1, max_value=2**31 - 1)


class RevisionsAdminMixin:
    """Revision pages under /admin/<app>/<model>/<id>/revisions/."""

    admin_site: Any
    model: Any
    opts: Any

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(
                "<path:object_id>/revisions/", wrap(self.revisions_view), name=f"{name}_revisions"
            ),
            path(
                "<path:object_id>/revisions/compare/",
                wrap(self.compare_view),
                name=f"{name}_revisions_compare",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/preview/",
                wrap(self.revision_preview_view),
                name=f"{name}_revision_preview",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/restore/",
                wrap(self.restore_view),
                name=f"{name}_revision_restore",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/publish/",
                wrap(require_POST(self.publish_pending_view)),
                name=f"{name}_revision_publish",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/discard/",
                wrap(require_POST(self.discard_pending_view)),
                name=f"{name}_revision_discard",
            ),
            path(
                "<path:object_id>/preview-link/",
                wrap(require_POST(self.preview_link_view)),
                name=f"{name}_preview_link",
            ),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    # The change form: a pending change is shown, kept apart, announced with its preview.

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        pending = revisions.pending_change(obj) if obj is not None else None
        extra = {**(extra_context or {}), "pending": pending}
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if saves_pending(request, change):
            return  # a pending change writes nothing readers can reach, old addresses included
        super().save_related(request, form, formsets, change)  # type: ignore[misc]

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        if saves_pending(request, not add):
            return "Saved a pending change."  # the inline formsets were not saved
        return super().construct_change_message(request, form, formsets, add)  # type: ignore[misc]

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        if saves_pending(request, True):
            pending = revisions.pending_change(obj)
            preview = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_revision_preview",
                args=[obj.pk, pending.number if pending else 0],
            )
            self.message_user(  # type: ignore[attr-defined]
                request,
                format_html(
                    "Saved as a pending change: readers still see the published version. "
                    '<a href="{}">Preview it</a>, then publish it from here or from the '
                    "revisions.",
                    preview,
                ),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)  # type: ignore[misc]

    # Look-ups and permissions.

    def _object(self, request: HttpRequest, object_id: str, *, change: bool = False) -> Any:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied  # a role without articles, before any look-up
        # The admin's queryset: a contributor finds their own articles only.
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404(f"No such {self.opts.verbose_name}.")
        allowed = (
            self.has_change_permission(request, obj)  # type: ignore[attr-defined]
            if change
            else self.has_view_permission(request, obj)  # type: ignore[attr-defined]
        )
        if not allowed:
            raise PermissionDenied
        return obj

    def _revision(self, obj: Any, number: int) -> Revision:
        return get_object_or_404(Revision.objects.of(obj), number=number)

    def _revisions_url(self, obj: Any) -> str:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_revisions"
        return reverse(name, args=[obj.pk])

    def _context(self, request: HttpRequest, obj: Any, title: str, **extra: Any) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": title,
            "has_view_permission": True,
            "has_change_permission": self.has_change_permission(request, obj),  # type: ignore[attr-defined]
            **extra,
        }

    # Pages.

    def revisions_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object(request, object_id)
        rows = list(
            Revision.objects.of(obj)
            .select_related("created_by")
            .order_by("-number")[:REVISIONS_SHOWN]
        )
        context = self._context(
            request,
            obj,
            f"Revisions of “{obj}”",
            revisions=rows,
            newest=rows[0].number if rows else None,
            previous=rows[1].number if len(rows) > 1 else None,
            shown_limit=REVISIONS_SHOWN,
            link_days=round(settings.PREVIEW_LINK_SECONDS / 86_400, 1),
        )
        return TemplateResponse(request, "admin/publishing/revisions/list.html", context)

    def compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object(request, object_id)
        form = CompareForm(request.GET)
        if not form.is_valid():
            messages.warning(request, "Choose two revisions to compare.")
            return HttpResponseRedirect(self._revisions_url(obj))
        old = Revision.objects.of(obj).filter(number=form.cleaned_data["old"]).first()
        new = Revision.objects.of(obj).filter(number=form.cleaned_data["new"]).first()
        if old is None or new is None:
            messages.warning(request, "One of those revisions does not exist.")
            return HttpResponseRedirect(self._revisions_url(obj))
        if old.number > new.number:
            old, new = new, old
        comparisons = diffs.compare(
            revisions.snapshot_of(old), revisions.snapshot_of(new), model=self.model
        )
        context = self._context(
            request,
            obj,
            f"Revision {old.number} compared with revision {new.number}",
            old=old,
            new=new,
            comparisons=comparisons,
            changed_count=sum(c.changed for c in comparisons),
        )
        return TemplateResponse(request, "admin/publishing/revisions/compare.html", context)

    def revision_preview_view(
        self, request: HttpRequest, object_id: str, number: int
    ) -> HttpResponse:
        obj = self._object(request, object_id)
        revision = self._revision(obj, number)
        stored = previews.stored(obj)
        assert stored is not None
        previewed = previews.revision_of(stored, revisions.snapshot_of(revision))
        when = date_format(revision.created_at, "DATETIME_FORMAT")
        notice = f"Preview of revision {revision.number} ({revision.get_state_display().lower()}, {when})."
        if revision.is_pending:
            notice += " Readers still see the current version until it is published."
        return render_for_readers(request, previewed, is_preview=True, preview_notice=notice)

    def restore_view(self, request: HttpRequest, object_id: str, number: int) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        revision = self._revision(obj, number)
        if request.method == "POST":
            as_pending = "_pending" in request.POST
            may_publish = getattr(self, "has_publish_permission", None)
            if as_pending and may_publish is not None and not may_publish(request, obj):
                # A pending change is an editor's (a writer's would hide text from review).
                messages.error(
                    request,
                    f"Revision {number} was not restored: only an editor keeps a pending change.",
                )
                return HttpResponseRedirect(self._revisions_url(obj))
            try:
                restored = services.restore_revision(
                    revision, by=request.user, as_pending=as_pending
                )
            except ArticleStateError as error:
                messages.error(request, f"Revision {number} was not restored: {error}")
            else:
                done = "as a pending change" if as_pending else "and saved"
                messages.success(
                    request, f"Revision {number} restored {done} (revision {restored.number})."
                )
            return HttpResponseRedirect(self._revisions_url(obj))
        newest = Revision.objects.of(obj).values_list("number", flat=True).first()
        context = self._context(
            request, obj, f"Restore revision {number}?", revision=revision, newest=newest
        )
        return TemplateResponse(request, "admin/publishing/revisions/restore.html", context)

    def publish_pending_view(
        self, request: HttpRequest, object_id: str, number: int
    ) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        # Publishing is the editors' (a contributor changes their drafts, which have no
        # pending changes, but may not put anything before readers).
        may_publish = getattr(self, "has_publish_permission", None)
        if may_publish is not None and not may_publish(request, obj):
            raise PermissionDenied
        revision = self._revision(obj, number)
        try:
            services.publish_pending_change(revision, by=request.user)
        except ArticleStateError as error:
            messages.error(request, f"The change was not published: {error}")
        else:
            messages.success(request, "The pending change is published: readers see it now.")
        return HttpResponseRedirect(self._revisions_url(obj))

    def discard_pending_view(
        self, request: HttpRequest, object_id: str, number: int
    ) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        revision = self._revision(obj, number)
        try:
            services.discard_pending_change(revision)
        except ArticleStateError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Pending change (revision {number}) discarded.")
        return HttpResponseRedirect(self._revisions_url(obj))

    def preview_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object(request, object_id, change=True)
        url = settings.SITE_URL + reverse(
            "publishing:preview-link", kwargs={"token": previews.make_token(obj)}
        )
        days = round(settings.PREVIEW_LINK_SECONDS / 86_400, 1)
        messages.success(
            request,
            format_html(
                "Preview link (anyone with it can read this {} for {} days; it shows the "
                'pending change if there is one): <a class="preview-link" href="{}">{}</a>',
                self.opts.verbose_name,
                f"{days:g}",
                url,
                url,
            ),
        )
        return HttpResponseRedirect(self._revisions_url(obj))
