from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The outlet's own settings (name, logo, colours, links): one row editors change in the
    admin, read by every app that names the site (pages, feeds, emails)."""

    name = "pressroom.site"
    label = "site"
    verbose_name = "Site settings and theme"
    default_auto_field = "django.db.models.BigAutoField"
