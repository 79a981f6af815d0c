"""Error reports to Sentry (or a service that speaks its protocol, such as GlitchTip).

Started from settings.py only when SENTRY_DSN is set; without it sentry-sdk is never imported.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def start_error_tracker(dsn: str, *, environment: str) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.utils import BadDsn

    try:
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            # Readers' addresses, cookies and form fields stay out of the reports.
            send_default_pii=False,
            # Errors only: no performance tracing, which would send an event per request.
            traces_sample_rate=0,
        )
    except BadDsn as error:
        raise ImproperlyConfigured(f"SENTRY_DSN is not a valid DSN: {error}") from None
    # A request for a host not in ALLOWED_HOSTS is a scanner's or a stale DNS name's, not a bug.
    ignore_logger("django.security.DisallowedHost")
