"""`pressroom doctor`: a table of what is right and wrong with this installation."""

from django.core.management.base import BaseCommand, CommandError

from pressroom.operations.doctor import FAIL, all_checks, format_table, run_checks


class Command(BaseCommand):
    help = (
        "Check Python, settings, database, cache, SMTP, storage, static files, secret key, "
        "worker, schedules, disk space and Django's deployment checks; exit 1 on a FAIL."
    )
    # Django's own checks are one of the doctor's rows, not a gate in front of it.
    requires_system_checks: list[str] = []

    def handle(self, *args: object, **options: object) -> None:
        findings = run_checks(all_checks())
        self.stdout.write(format_table(findings))
        failed = [finding.check for finding in findings if finding.status == FAIL]
        if failed:
            raise CommandError(f"{len(failed)} checks failed: {', '.join(failed)}")
