"""WhiteNoise, limited to the files `collectstatic` wrote.

WhiteNoise serves every file under STATIC_ROOT. settings.py already refuses a STATIC_ROOT that
is or contains the code; this is the second lock: whatever else lands in that directory (an
env file copied there, a backup, an editor's swap file) is never served. In production only
the names in collectstatic's manifest are served; with DEBUG (no manifest, files found afresh
on each request) only what the static-file finders find in the apps' `static/` folders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.middleware import WhiteNoiseMiddleware


def collected_names(static_root: Path) -> set[str]:
    """Every name in collectstatic's manifest, original and hashed."""
    manifest = static_root / ManifestStaticFilesStorage.manifest_name
    try:
        paths = json.loads(manifest.read_text()).get("paths", {})
    except (OSError, ValueError):
        return set()
    return set(paths) | set(paths.values())


class CollectedStaticFilesMiddleware(WhiteNoiseMiddleware):
    def __init__(self, get_response=None, settings=settings) -> None:
        super().__init__(get_response, settings)
        if self.autorefresh:
            return
        allowed = {self.static_prefix + name for name in collected_names(Path(self.static_root))}
        if self.use_finders:
            allowed |= {
                self.static_prefix + path.replace("\\", "/")
                for finder in finders.get_finders()
                for path, _storage in finder.list(None)
            }
        # WhiteNoise's own attribute, untyped.
        collected = {url: file for url, file in self.files.items() if url in allowed}  # type: ignore[has-type]
        self.files = collected

    def candidate_paths_for_url(self, url: str) -> Iterator[str]:
        """With autorefresh (DEBUG): the apps' own static files only, never STATIC_ROOT."""
        if url.startswith(self.static_prefix):
            path = finders.find(url[len(self.static_prefix) :])
            if isinstance(path, str):
                yield path
