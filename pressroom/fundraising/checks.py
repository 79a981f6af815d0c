"""Start-up checks of the fundraising set-up: every processor named loads, and the default one
is among them. Django runs them before `check`, `migrate` and `serve`, so a mistyped
FUNDRAISING_PROVIDER or a broken plug-in stops start-up with one clear line instead of making
/donate/ answer 500."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.compatibility)
def check_processors(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from pressroom.fundraising.providers import registry

    loaded = registry()
    errors = [
        Error(
            problem,
            hint="Correct FUNDRAISING_PROCESSORS or the plug-in package.",
            id="fundraising.E001",
        )
        for problem in loaded.problems
    ]
    if settings.FUNDRAISING_PROVIDER not in loaded.providers:
        errors.append(
            Error(
                f"FUNDRAISING_PROVIDER={settings.FUNDRAISING_PROVIDER!r} names no installed payment "
                f"processor (installed: {', '.join(loaded.providers) or 'none'}).",
                id="fundraising.E002",
            )
        )
    return errors
