from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The outlet's own settings (name, logo, colours, links): one row editors change in the
    admin, read by every app that names the site (pages, feeds, emails)."""

    name = "pressroom.site"
    label = "site"
    verbose_name = "Site settings and theme"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pressroom.lib.email import register_email_context
        from pressroom.site.current import email_context

        # Emails (lib) know no app: the name and postal address editors set reach them here.
        register_email_context(email_context)
