"""The admin site: Django's, its header and title naming the outlet."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class NewsroomAdminSite(AdminSite):
    index_title = "Newsroom"

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        # The site settings' name (editors change it in the admin), read once a page: as lazy
        # strings on the site, the header and the title read it four times (four queries).
        from pressroom.site.current import current_site_name

        context = super().each_context(request)
        context["site_header"] = context["site_title"] = f"{current_site_name()} newsroom"
        return context


class NewsroomAdminConfig(AdminConfig):
    """django.contrib.admin, with NewsroomAdminSite as `admin.site` (INSTALLED_APPS)."""

    default_site = "pressroom.site.admin_site.NewsroomAdminSite"
