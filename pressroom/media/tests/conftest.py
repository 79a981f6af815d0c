from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores its files in a directory of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def run_worker() -> None:
    """The real task worker, in batch mode: runs what is queued, then returns."""
    call_command("worker", batch=True, verbosity=0)
