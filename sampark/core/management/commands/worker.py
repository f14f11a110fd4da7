"""`sampark worker` — the task worker: Huey's consumer plus the registered loops (see core/worker.py).

Run one per machine in distributed mode (any number of machines); `sampark serve` starts one itself.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sampark.core import worker


class Command(BaseCommand):
    help = "Run the task worker (queue consumer and loops) until SIGINT/SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            # Task threads mostly wait on the network (dispatch runs) or run for a moment (sweeps):
            # enough for every channel's dispatch at once plus the periodic work.
            "--threads",
            type=int,
            default=int(os.environ.get("SAMPARK_TASK_WORKERS", "8")),
        )
        parser.add_argument(
            "--no-periodic", action="store_true", help="do not run the periodic tasks (sweeps) here"
        )
        parser.add_argument(
            # STACK.md: cap polling back-off at 1 s on SQLite so queued work starts promptly.
            "--max-delay",
            type=float,
            default=1.0,
        )

    def handle(self, *args: Any, threads: int, no_periodic: bool, max_delay: float, **options: Any) -> None:
        raise SystemExit(worker.run(threads=threads, periodic=not no_periodic, max_delay=max_delay))
