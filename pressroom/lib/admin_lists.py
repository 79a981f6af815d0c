"""What the admin's busiest changelists share."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.core.paginator import InvalidPage, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


class QuickRowCheckboxes:
    """A changelist's row checkboxes written directly, the same markup as Django's: Django
    renders each through the form widget templates, which at a hundred rows (subscribers) or
    fifty (articles) was a tenth of the page (bench/search.py times the admin's searches)."""

    def action_checkbox(self, obj: Any) -> SafeString:
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )


class CappedCountPaginator(Paginator):
    """A search's matches counted up to COUNT_CAP, and paged that far. Counting every match of
    a common word read every title (SQLite) or fetched every matching row to check its trigrams
    (PostgreSQL): 50 to 90 ms at 100,000 articles, more than the page it counted for. Past a
    thousand matches an editor narrows the search rather than pages on; the list says "1000+"
    (`capped`), and an action on "all" still acts on every match, as the list says."""

    COUNT_CAP = 1_000

    def __init__(self, object_list: QuerySet, per_page: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.capped = False

    @cached_property
    def count(self) -> int:
        # Without the list's order: a sliced count keeps it, and PostgreSQL then sorted every
        # match to count the first thousand.
        found = self.object_list.order_by()[: self.COUNT_CAP + 1].count()
        self.capped = found > self.COUNT_CAP
        return min(found, self.COUNT_CAP)


class QuickRowLinksChangeList(ChangeList):
    """A changelist whose row links are made from one `reverse()`, the changelist's filters
    added once for all rows. Django reverses each row's change URL, then `add_preserved_filters`
    resolves it back to learn it is not the changelist, on every row of a filtered or searched
    list: two walks of the admin's URL patterns a row, 15 to 25 ms for fifty rows. The links
    are the same strings Django makes. A first page that holds every match needs no count
    (`get_results`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_pk: str | None = None
        marker = "0"
        try:
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=(marker,),
                current_app=self.model_admin.admin_site.name,
            )
        except NoReverseMatch:  # no change page of the usual shape: Django's own links
            return
        if f"/{marker}/" not in url:
            return
        self._before_pk, _, self._after_pk = url.rpartition(f"/{marker}/")
        # What each row link carries back to this list (Django's `_changelist_filters`)...
        filters = dict(parse_qsl(self.preserved_filters)) if self.preserved_filters else {}
        self._row_query = f"?{urlencode(filters)}" if filters else ""
        # ...so nothing is left for add_preserved_filters to add (only the rows read it).
        self.preserved_filters = ""

    def get_results(self, request: HttpRequest) -> None:
        """Django's, with two reads fewer. Django counts the matches, then reads the page. Here
        the first page is read first (one row past it): when every match fits on it, its rows
        are the count, and the count (on a title search, another scan of every title) is never
        made; when they do not, they are counted, and the rows read are the first page (Django
        read it again). A page past a capped count (`CappedCountPaginator`) is its last page."""
        self.result_count_capped = False
        if self.list_editable:  # its formset is built on a queryset: Django's own way
            super().get_results(request)
            self.result_count_capped = getattr(self.paginator, "capped", False)
            self.can_show_all = self.can_show_all and not self.result_count_capped
            return
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        rows = None
        if self.page_num == 1 and not self.show_all:
            rows = list(self.queryset[: self.list_per_page + 1])
            if len(rows) <= self.list_per_page:
                paginator.__dict__["count"] = len(rows)  # Paginator.count is a cached_property
        count = paginator.count
        capped = self.result_count_capped = getattr(paginator, "capped", False)
        # "Show all" would show the first thousand of a capped count.
        can_show_all = count <= self.list_max_show_all and not capped
        multi_page = count > self.list_per_page
        if rows is not None:
            result_list: Any = rows[: self.list_per_page]
        elif (self.show_all and can_show_all) or not multi_page:
            result_list = self.queryset._clone()
        else:
            if capped:
                self.page_num = min(self.page_num, paginator.num_pages)
            try:
                result_list = paginator.page(self.page_num).object_list
            except InvalidPage:
                raise IncorrectLookupParameters from None
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.full_result_count = self.root_queryset.count() if self.show_full_result_count else None
        self.show_admin_actions = not self.show_full_result_count or bool(self.full_result_count)
        self.result_count = count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator

    def url_for_result(self, result: Any) -> str:
        if self._before_pk is None:
            return super().url_for_result(result)
        pk = getattr(result, self.pk_attname)
        if not isinstance(pk, int):  # what admin's quote() and reverse() would change
            return super().url_for_result(result) + self._row_query
        return f"{self._before_pk}/{pk}/{self._after_pk}{self._row_query}"


class QuickRowLinks:
    """A ModelAdmin whose changelist is a QuickRowLinksChangeList, and whose searches count
    their matches up to a thousand (CappedCountPaginator; the admin templates of
    pressroom/templates/admin/ say "1000+")."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QuickRowLinksChangeList

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator:
        if request.GET.get(SEARCH_VAR, "").strip():
            return CappedCountPaginator(queryset, per_page, orphans, allow_empty_first_page)
        return super().get_paginator(  # type: ignore[misc]
            request, queryset, per_page, orphans, allow_empty_first_page
        )
