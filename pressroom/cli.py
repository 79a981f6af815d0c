"""The `pressroom` command: Django's manage.py for this project, plus serve, demo and worker."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration mistake is the operator's to fix: one clear line, no traceback.
        sys.stderr.write(f"pressroom: configuration error: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
