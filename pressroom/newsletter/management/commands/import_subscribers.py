"""`pressroom import_subscribers FILE.csv [--confirmed]`: add subscribers from a CSV file."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from pressroom.newsletter.services import ImportRow, import_subscribers

MAX_REPORTED = 20


def _consent_date(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"consent date {value!r} is not a date (use YYYY-MM-DD)")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file with a header row: email, and optionally topics "
        "(slugs or names separated by ';' or '|') and consent_date. Existing addresses are left "
        "as they are. Without --confirmed, imported readers must still confirm by email."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8).")
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="They already opted in elsewhere: mark them confirmed.",
        )

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from None
        reader = csv.DictReader(text.splitlines())
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        if "email" not in fields:
            raise CommandError(
                f"{path} has no 'email' column (columns: email, topics, consent_date)."
            )
        rows, bad = [], []
        for line, record in enumerate(reader, start=2):
            topics_field = record.get(fields.get("topics", ""), "") or ""
            topics = [t.strip() for t in topics_field.replace("|", ";").split(";") if t.strip()]
            consent_field = fields.get("consent_date") or fields.get("consent")
            try:
                consented = (
                    _consent_date(record.get(consent_field, "") or "") if consent_field else None
                )
            except ValueError as error:
                bad.append((line, str(error)))
                continue
            rows.append(ImportRow(line, record.get(fields["email"]) or "", topics, consented))
        report = import_subscribers(rows, confirmed=bool(options["confirmed"]))
        invalid = sorted(bad + report.invalid)
        self.stdout.write(
            f"{report.added} added, {report.already_present} already present, "
            f"{len(invalid)} invalid."
        )
        for line, reason in invalid[:MAX_REPORTED]:
            self.stdout.write(f"  line {line}: {reason}")
        if len(invalid) > MAX_REPORTED:
            self.stdout.write(f"  … and {len(invalid) - MAX_REPORTED} more")
