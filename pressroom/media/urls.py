import re

from django.conf import settings
from django.urls import re_path

from pressroom.media import views

app_name = "media"

urlpatterns = []
if settings.MEDIA_SERVE and settings.MEDIA_URL.startswith("/"):
    urlpatterns = [
        # Escaped: MEDIA_URL is a path, not a pattern (a "(" in it failed every request).
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$",
            views.serve_media,
            name="file",
        ),
    ]
