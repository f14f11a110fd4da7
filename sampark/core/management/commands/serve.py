"""`sampark serve` — one process tree for the embedded mode: web (granian) + worker (`sampark worker`).

Runs migrations and collects static files first, then supervises the two children (see
:mod:`sampark.core.supervise`): a child that dies is started again (with back-off); the first SIGINT
or SIGTERM stops both within ``SAMPARK_STOP_SECONDS`` + 2 s (the worker winds down, granian drains), a
second signal kills everything at once; whatever the children leave behind (granian's worker
processes) is found and reaped, so nothing keeps answering on the port.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from sampark.core.supervise import Child, Supervisor


class Command(BaseCommand):
    help = "Migrate, collect static files, then run the web server and the task worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("SAMPARK_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SAMPARK_PORT", "8000")))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("SAMPARK_WEB_WORKERS", "2"))
        )
        parser.add_argument(
            # Request threads per web worker. Django views block, so a few, not granian's default of
            # hundreds; every thread more also means more GIL hand-overs per request
            # (bench/webhooks.py: server CPU per status webhook 120 us with 1 thread, 150-165 with 4).
            "--web-threads",
            type=int,
            default=int(os.environ.get("SAMPARK_WEB_THREADS", str(max(4, 2 * (os.cpu_count() or 1))))),
        )
        parser.add_argument(
            # Task threads of the worker (dispatch runs mostly wait on the network; loops such as the
            # stream ticker have threads of their own and never take one of these).
            "--task-workers",
            type=int,
            default=int(os.environ.get("SAMPARK_TASK_WORKERS", "8")),
        )
        parser.add_argument(
            "--seed-demo", action="store_true", help="build the small demo if the database is empty"
        )
        parser.add_argument(
            "--no-worker", action="store_true", help="web only (distributed mode runs workers apart)"
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        web_workers: int,
        web_threads: int,
        task_workers: int,
        seed_demo: bool,
        no_worker: bool,
        **options: Any,
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if seed_demo:
            self._seed_demo()

        python = sys.executable
        children: list[Child] = []
        if not no_worker:
            children.append(
                Child(
                    "worker",
                    [
                        python,
                        "-m",
                        "sampark.cli",
                        "worker",
                        "--threads",
                        str(task_workers),
                        "--max-delay",
                        "1",
                    ],
                )
            )
        children.append(
            Child(
                "web",
                [
                    python,
                    "-m",
                    "granian",
                    "--interface",
                    "wsgi",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--workers",
                    str(web_workers),
                    "--no-ws",
                    "--blocking-threads",
                    str(web_threads),
                    # Feed links carry a token in the path: no access log (our own logs redact it).
                    "--no-access-log",
                    "--respawn-failed-workers",
                    # Granian's own stop: requests in progress get this long, then its workers go.
                    "--workers-kill-timeout",
                    "3",
                    "config.wsgi:application",
                ],
            )
        )
        self.stdout.write(
            self.style.SUCCESS(
                _("Sampark is running at http://%(host)s:%(port)s/") % {"host": host, "port": port}
            )
        )
        login = settings.SAMPARK_HOME / "demo-login.txt"
        if login.exists():
            self.stdout.write(
                _("Demo login: %(login)s") % {"login": login.read_text(encoding="utf-8").strip()}
            )
        self.stdout.write(_("Press Ctrl-C to stop."))
        code = Supervisor(
            children, stop_seconds=settings.SAMPARK_STOP_SECONDS + 2, log=self.stderr.write
        ).run()
        if code:
            raise SystemExit(code)

    def _seed_demo(self) -> None:
        from sampark.territory.demo import build_demo, has_territory

        if has_territory():
            return
        self.stdout.write(_("Empty database: building the small demo…"))
        summary = build_demo(scale="small", seed=1)
        if summary.password is None:  # a "demo" user existed already: its password is not ours to print
            return
        login = settings.SAMPARK_HOME / "demo-login.txt"
        lines = [f"{summary.username} / {summary.password}"]
        if summary.logins:  # scoped demo logins (a district, a block, a volunteer), same password
            lines.append(f"{', '.join(summary.logins)} / {summary.password}")
        login.write_text("\n".join(lines) + "\n", encoding="utf-8")
        login.chmod(0o600)
