import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
django_application = get_wsgi_application()

# Stored public pages go out before Django builds a request (pressroom/lib/pagecache/wsgi.py).
from pressroom.lib.pagecache import PageCacheApplication  # noqa: E402

application = PageCacheApplication(django_application)
