"""`sampark demo` — thin: parse arguments, build the demo organisation, print what was built."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sampark.core.numbers import group_indian
from sampark.territory.demo import SCALES, DemoSummary, TerritoryNotEmpty, build_demo, has_territory


class Command(BaseCommand):
    help = gettext_noop(
        "Fill an empty database with a synthetic, Bihar-shaped organisation (districts down to polling "
        "booths) and a 'demo' superuser, to try Sampark with."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # argparse needs a real string; translate the help here, when the language is known.
        self.help = _(type(self).help)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            choices=list(SCALES),
            default="small",
            help=_("small: three districts, about 600 booths (default); state: all of it, ~1.06 lakh booths"),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help=_("the same seed always builds the same organisation (default 1)"),
        )
        parser.add_argument(
            "--if-empty", action="store_true", help=_("do nothing if the database already has a state")
        )
        parser.add_argument(
            "--password",
            help=_("password for the 'demo' user (default: a new random one, or keep the existing user's)"),
        )

    def handle(
        self, *args: Any, scale: str, seed: int, if_empty: bool, password: str | None, **options: Any
    ) -> None:
        if if_empty and has_territory():
            self.stdout.write(_("The database already has territory data; the demo was not loaded."))
            return
        errors = Console(stderr=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=errors,
            transient=True,
            disable=options.get("verbosity", 1) == 0 or not errors.is_terminal,
        ) as bar:

            def progress(description: str, total: int | None) -> Callable[[int], None]:
                task = bar.add_task(description, total=total)
                return lambda n: bar.advance(task, n)

            try:
                summary = build_demo(scale=scale, seed=seed, password=password, progress=progress)
            except TerritoryNotEmpty as exc:
                raise CommandError(_("%(reason)s Use --if-empty to skip quietly.") % {"reason": exc}) from exc
            except ValidationError as exc:
                raise CommandError(
                    _("The password was refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}
                ) from exc
        rendered = io.StringIO()
        Console(file=rendered, width=100, highlight=False).print(self._table(summary))
        self.stdout.write(rendered.getvalue(), ending="")
        self.stdout.write(_("Built in %(seconds).1f s.") % {"seconds": summary.seconds})
        if summary.password is None:
            self.stdout.write(
                _("Login: %(username)s (the existing password is kept)") % {"username": summary.username}
            )
        else:
            self.stdout.write(
                _("Login: %(username)s / %(password)s")
                % {"username": summary.username, "password": summary.password}
            )
        if summary.logins:
            self.stdout.write(
                _("Scoped logins with the same password: %(usernames)s")
                % {"usernames": ", ".join(summary.logins)}
            )

    def _table(self, summary: DemoSummary) -> Table:
        table = Table(
            title=_("Demo: %(state)s (%(scale)s, seed %(seed)s)")
            % {"state": summary.state, "scale": summary.scale, "seed": summary.seed}
        )
        table.add_column(_("what"))
        table.add_column(_("count"), justify="right")
        rows = [
            (_("Districts"), summary.districts),
            (_("Parliamentary constituencies"), summary.pcs),
            (_("Assembly constituencies"), summary.acs),
            (_("Blocks"), summary.blocks),
            (_("Gram panchayats"), summary.gram_panchayats),
            (_("Urban bodies"), summary.urban_bodies),
            (_("Polling booths: main"), summary.main_booths),
            (_("Polling booths: auxiliary"), summary.auxiliary_booths),
            (_("Polling booths: total"), summary.booths),
        ]
        for label, count in [*rows, *summary.extra]:
            table.add_row(Text(label), group_indian(count))
        return table
