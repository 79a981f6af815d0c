"""Background tasks: finding every app's tasks module (the worker and `pressroom doctor` both
need the full list of periodic jobs, which register themselves when their module is imported)."""

import importlib

from django.apps import apps
from django.utils.module_loading import module_has_submodule


def load_task_modules() -> None:
    """Import every app's tasks module so that @cron schedules register themselves."""
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "tasks"):
            importlib.import_module(f"{app.name}.tasks")
