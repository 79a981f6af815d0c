import os
from collections.abc import Callable

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
django_application = get_wsgi_application()

# Stored public pages go out before Django builds a request (pressroom/lib/pagecache/wsgi.py).
from pressroom.lib.pagecache import PageCacheApplication  # noqa: E402

application: Callable = PageCacheApplication(django_application)

if settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS:
    # Outermost, so that pages the page cache answers by itself are counted too.
    from pressroom.lib.metrics import CountResponses

    application = CountResponses(application)
