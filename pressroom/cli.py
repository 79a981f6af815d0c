"""The `pressroom` command: Django's manage.py for this project, plus serve, demo and worker."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    # Operators type `pressroom restore-backup`, `pressroom go-live`; the modules use underscores.
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        sys.argv[1] = sys.argv[1].replace("-", "_")
    from django.core.exceptions import ImproperlyConfigured
    from django.db.utils import OperationalError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration mistake is the operator's to fix: one clear line, no traceback.
        sys.stderr.write(f"pressroom: configuration error: {error}\n")
        sys.exit(2)
    except OperationalError as error:
        # The database is not there (not created yet, wrong password, server down): the
        # operator's to fix too. `--traceback` still shows where, for a developer.
        if "--traceback" in sys.argv:
            raise
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        sys.stderr.write(
            f"pressroom: database error: {reason} (check DATABASE_URL, and that the database "
            "exists and its server runs)\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
