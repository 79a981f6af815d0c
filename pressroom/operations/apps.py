from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class OperationsConfig(AppConfig):
    """What an operator runs and watches: start-up checks, health checks, metrics, `doctor`.

    Like `front`, it sits above every app (its metrics count their rows); no app imports it.
    """

    name = "pressroom.operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        check_import_paths()


def check_import_paths() -> None:
    """Settings naming a class are imported at start-up, not when the first digest goes out."""
    paths = {
        "EMAIL_BACKEND": settings.MAILERS["default"]["BACKEND"],
        "BULK_EMAIL_BACKEND": settings.MAILERS["bulk"]["BACKEND"],
        "TASKS_BACKEND": settings.TASKS["default"]["BACKEND"],
    }
    for name, path in paths.items():
        try:
            import_string(path)
        except ImportError as error:
            raise ImproperlyConfigured(f"{name} {path!r} cannot be imported: {error}") from None
