"""What an import did, per kind of thing, for the command's summary and for tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CLASHES_SHOWN = 10
MEDIA_PROBLEMS_SHOWN = 50
REPORT_KINDS = ("posts", "pages", "media", "other", "authors", "topics")


@dataclass
class KindSummary:
    created: int = 0
    updated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def line(self, kind: str) -> str:
        def reasons(counter: Counter[str]) -> str:
            if not counter:
                return ""
            return " (" + ", ".join(f"{reason}: {n}" for reason, n in counter.most_common()) + ")"

        return (
            f"{kind:<8} created {self.created}, updated {self.updated}, "
            f"skipped {self.skipped_total}{reasons(self.skipped)}, "
            f"failed {self.failed_total}{reasons(self.failed)}"
        )


@dataclass
class ImportReport:
    source_site: str = ""
    wxr_version: str = ""
    dry_run: bool = False
    kinds: dict[str, KindSummary] = field(
        default_factory=lambda: {kind: KindSummary() for kind in REPORT_KINDS}
    )
    # Old addresses this export gives that already led elsewhere (another imported site's):
    # kept as they were, listed so the operator can decide.
    clashing_paths: list[str] = field(default_factory=list)
    # Media files not brought home ("path: reason"): posts keep their old addresses for them.
    media_problems: list[str] = field(default_factory=list)
    # Where an import's time went, in seconds (the command's -v 2 line, the benchmark).
    timings: dict[str, float] = field(default_factory=dict)

    def add_clashes(self, paths: list[str]) -> None:
        self.clashing_paths.extend(path for path in paths if path not in self.clashing_paths)

    def __getitem__(self, kind: str) -> KindSummary:
        return self.kinds[kind]

    def lines(self) -> list[str]:
        heading = f"{self.source_site or 'unknown site'} (WXR {self.wxr_version or '?'})"
        if self.dry_run:
            heading = f"Dry run, nothing was saved: {heading}"
        lines = [heading] + [
            summary.line(kind)
            for kind, summary in self.kinds.items()
            if summary.created or summary.updated or summary.skipped or summary.failed
            or kind in ("posts", "authors", "topics")
        ]  # fmt: skip
        if self.clashing_paths:
            shown = ", ".join(self.clashing_paths[:CLASHES_SHOWN])
            more = len(self.clashing_paths) - CLASHES_SHOWN
            lines.append(
                f"old addresses already leading elsewhere, kept as they were: "
                f"{len(self.clashing_paths)} ({shown}{f', and {more} more' if more > 0 else ''})"
            )
        if self.media_problems:
            lines.append(f"media not brought home: {len(self.media_problems)}")
            lines += [f"  {problem}" for problem in self.media_problems[:MEDIA_PROBLEMS_SHOWN]]
            more = len(self.media_problems) - MEDIA_PROBLEMS_SHOWN
            if more > 0:
                lines.append(f"  and {more} more")
        return lines


def timings_line(timings: dict[str, float]) -> str:
    """`timings` on one line, for an operator's -v 2 and the benchmark's printout."""
    return "timings: " + ", ".join(
        f"{name.replace('_', ' ')} {seconds:.2f} s" for name, seconds in timings.items()
    )


class ImportInterrupted(Exception):
    """The file broke off or went bad part-way; what came before it has been saved."""

    def __init__(
        self,
        message: str,
        report: ImportReport,
        line: int | None = None,
        *,
        file_at_fault: bool = True,
    ) -> None:
        super().__init__(message)
        self.report = report
        self.line = line
        # False: the file is fine, the import stopped for another reason (its reader died).
        self.file_at_fault = file_at_fault
