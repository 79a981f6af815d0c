"""The "Reader insight" page of the admin: the site's counts for a chosen period, as a chart,
tables and CSV. Staff need insight.view_pageview (the Editor, Audience and Fundraising roles
hold it); the rows themselves cannot be added, changed or deleted by hand."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from pressroom.insight import reports
from pressroom.insight.forms import PeriodForm
from pressroom.insight.models import PageView
from pressroom.lib.spreadsheets import stream_rows


@admin.register(PageView)
class InsightAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if {"start", "end"} & set(request.GET):
            form = PeriodForm(request.GET)
        else:
            initial = PeriodForm.initial_period()
            form = PeriodForm({"start": initial.start, "end": initial.end})
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Reader insight",
                "form": form,
                "tables": [],
            }
            return render(request, "admin/insight/report.html", context, status=400)
        period = form.period()
        table_name = form.cleaned_data.get("table")
        allowed = reports.tables_for(request.user)
        if table_name and table_name not in allowed:
            raise PermissionDenied
        if table_name:
            table = reports.TABLES[table_name](period)
            response = StreamingHttpResponse(
                stream_rows(reports.csv_rows(table), byte_order_mark=True),
                content_type="text/csv; charset=utf-8",
            )
            filename = f"insight-{table.name}-{period.start}-{period.end}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        tables = [reports.TABLES[name](period) for name in allowed]
        context = {
            **self.admin_site.each_context(request),
            "title": "Reader insight",
            "form": form,
            "period": period,
            "chart": mark_safe(reports.chart_svg(tables[0])),
            "tables": tables,
            "query": f"start={period.start}&end={period.end}",
            "opts": self.model._meta,
        }
        return render(request, "admin/insight/report.html", context)
