import os
from collections.abc import Callable

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
django_application = get_wsgi_application()

# Stored public pages go out before Django builds a request (pressroom/lib/pagecache/wsgi.py).
from pressroom.lib.counting import CountingFront  # noqa: E402
from pressroom.lib.pagecache import PageCacheApplication  # noqa: E402

# Outside the page cache's front, so a stored page's views and visits from an email are counted
# too, and a send's tag is off the address before the page cache files or finds the page.
application: Callable = CountingFront(PageCacheApplication(django_application))

if settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS:
    # Outermost, so that pages the page cache answers by itself are counted too.
    from pressroom.lib.metrics import CountResponses

    application = CountResponses(application)
