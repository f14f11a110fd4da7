"""`sampark coverage --unit … --format table|csv|json` — coverage against the targets, for scripts and humans."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _
from rich.console import Console
from rich.table import Table

from sampark.core.numbers import group_indian
from sampark.people import services
from sampark.people.coverage import Coverage, UnknownUnit, coverage_of, parse_unit
from sampark.territory.models import State

FIELDS = (
    "unit",
    "name",
    "booths",
    "booths_at_target",
    "coverage_percent",
    "volunteers",
    "panchayats_covered",
    "blocks",
    "blocks_at_target",
)


class Command(BaseCommand):
    help = "Coverage of a unit and its children against the volunteer targets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--unit",
            default="state",
            help="state | district:<LGD code> | ac:<number> | block:<LGD code> | panchayat:<LGD code> | booth:<code>",
        )
        parser.add_argument(
            "--state", type=int, help="LGD code of the state for ac:/booth: (default: the only one)"
        )
        parser.add_argument("--by", choices=["block", "ac"], default="block", help="a district's children")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
        parser.add_argument(
            "--recount",
            action="store_true",
            help="rebuild the per-booth rollup from posts and consents first",
        )

    def handle(
        self, *args: Any, unit: str, state: int | None, by: str, format: str, recount: bool, **options: Any
    ) -> None:
        if recount:
            with transaction.atomic():
                services.recount_booths(None)
        in_state = None
        if state is not None:
            in_state = State.objects.filter(lgd_code=state).first()
            if in_state is None:
                raise CommandError(_("no state with LGD code %(code)s") % {"code": state})
        try:
            target = parse_unit(unit, state=in_state)
        except UnknownUnit as exc:
            raise CommandError(str(exc)) from exc
        result = coverage_of(target, by=by)
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        elif format == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(FIELDS)
            for row in [result, *result.children]:
                data = row.as_dict(with_children=False)
                writer.writerow(["" if data[f] is None else data[f] for f in FIELDS])
        else:
            self._table(result)

    def _table(self, result: Coverage) -> None:
        table = Table(title=_("Coverage of %(unit)s") % {"unit": result.as_dict(with_children=False)["name"]})
        headers = (
            _("unit"),
            _("booths"),
            _("at target"),
            _("%"),
            _("volunteers"),
            _("panchayats covered"),
            _("blocks at target"),
        )
        for header in headers:
            table.add_column(header, justify="left" if header == headers[0] else "right")

        def cells(row: Coverage) -> list[str]:
            data = row.as_dict(with_children=False)
            blocks = (
                ""
                if row.blocks is None
                else f"{group_indian(row.blocks_at_target or 0)}/{group_indian(row.blocks)}"
            )
            return [
                str(data["name"]),
                group_indian(row.booths),
                group_indian(row.booths_at_target),
                f"{row.percent:.1f}",
                group_indian(row.volunteers),
                group_indian(row.panchayats_covered),
                blocks,
            ]

        for child in result.children:
            table.add_row(*cells(child))
        table.add_section()
        table.add_row(*cells(result), style="bold")
        rendered = io.StringIO()  # rich writes partial lines; OutputWrapper would end each with a newline
        Console(file=rendered, width=140).print(table)
        self.stdout.write(rendered.getvalue(), ending="")
