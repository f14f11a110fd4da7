"""`sampark import <kind> PATH…` — thin: parse arguments, run the importer, print the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sampark.core.numbers import group_indian
from sampark.territory.importers.base import ImportReport, run_import
from sampark.territory.importers.registry import all_importers

# What the importers count (ImportReport.count labels), marked here so the summary is translated.
COUNT_LABELS = (
    gettext_noop("states"),
    gettext_noop("districts"),
    gettext_noop("blocks"),
    gettext_noop("panchayats"),
    gettext_noop("booths"),
    gettext_noop("assembly constituencies"),
    gettext_noop("parliamentary constituencies"),
    gettext_noop("district boundaries"),
    gettext_noop("block boundaries"),
    gettext_noop("ac boundaries"),
    gettext_noop("people"),
    gettext_noop("contact points"),
    gettext_noop("consents"),
    gettext_noop("posts"),
)


class Command(BaseCommand):
    help = "Import official territory files (LGD, ECI, CEO polling stations, panchayat mapping, boundaries) and volunteers."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        for kind, importer in all_importers().items():
            p = sub.add_parser(kind, help=importer.help, description=importer.help)
            p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
            p.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
            p.add_argument(
                "--report", type=Path, help="also write every issue as CSV (file,line,field,severity,reason)"
            )
            p.add_argument("--max-issues", type=int, default=30, help="issues to print (all go to --report)")
            importer.add_arguments(p)

    def handle(
        self,
        *args: Any,
        kind: str,
        paths: list[Path],
        dry_run: bool,
        report: Path | None,
        max_issues: int,
        **options: Any,
    ) -> None:
        importer = all_importers()[kind]
        console = Console(stderr=True)
        known = {"verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}
        extra = {k: v for k, v in options.items() if k not in known}
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=options.get("verbosity", 1) == 0,
        ) as bar:

            def progress(description: str, total: int | None):  # type: ignore[no-untyped-def]
                task = bar.add_task(description, total=total)
                return lambda n: bar.advance(task, n)

            result = run_import(importer, paths, progress=progress, dry_run=dry_run, **extra)
        self._print(console, result, max_issues)
        if report:
            self._write_report(report, result)
        if result.errors:
            raise CommandError(_("%(n)s error(s): nothing was written.") % {"n": len(result.errors)})
        if dry_run:
            console.print(_("Dry run: nothing was written."))

    def _print(self, console: Console, result: ImportReport, max_issues: int) -> None:
        table = Table(title=_("Import %(kind)s") % {"kind": result.kind})
        for column in (_("what"), _("created"), _("updated"), _("unchanged")):
            table.add_column(column, justify="right" if column != _("what") else "left")
        for label, counts in result.counts.items():
            table.add_row(
                _(label), *(group_indian(n) for n in (counts.created, counts.updated, counts.unchanged))
            )
        table.caption = _("%(rows)s rows read · %(e)s errors · %(w)s warnings") % {
            "rows": group_indian(result.rows_read),
            "e": len(result.errors),
            "w": len(result.warnings),
        }
        console.print(table)
        shown = result.errors[:max_issues] + result.warnings[: max(0, max_issues - len(result.errors))]
        for issue in shown:
            console.print(str(issue), style="red" if issue.severity == "error" else "yellow", markup=False)
        hidden = len(result.issues) - len(shown)
        if hidden > 0:
            console.print(_("… and %(n)s more (use --report FILE for all)") % {"n": group_indian(hidden)})

    def _write_report(self, path: Path, result: ImportReport) -> None:
        import csv

        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "line", "field", "severity", "reason"])
            for i in result.issues:
                writer.writerow([i.file, i.line or "", i.field, i.severity, i.reason])
