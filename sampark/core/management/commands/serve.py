"""`sampark serve` — one process tree for the embedded mode: web (granian) + worker (Huey consumer).

Runs migrations and collects static files first. Ctrl-C (SIGINT) or SIGTERM stops both children:
the consumer gets SIGINT (Huey's graceful stop: finish running tasks), granian SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Migrate, collect static files, then run the web server and the task worker until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("SAMPARK_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SAMPARK_PORT", "8000")))
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("SAMPARK_WEB_WORKERS", "2"))
        )
        parser.add_argument(
            # Threads: the stream ticker holds one for good, dispatch runs take others (mostly waiting
            # on the network).
            "--task-workers",
            type=int,
            default=int(os.environ.get("SAMPARK_TASK_WORKERS", "4")),
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
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        if not no_worker:
            children.append(
                (
                    "worker",
                    subprocess.Popen(
                        [
                            python,
                            "-m",
                            "sampark.cli",
                            "run_huey",
                            "--workers",
                            str(task_workers),
                            "--worker-type",
                            "thread",
                            # STACK.md: cap polling back-off at 1 s on SQLite so queued work starts promptly.
                            "--max-delay",
                            "1",
                        ]
                    ),
                )
            )
        children.append(
            (
                "web",
                subprocess.Popen(
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
                        # Django views block: a few threads per worker, not granian's default of hundreds.
                        "--blocking-threads",
                        str(max(4, 2 * (os.cpu_count() or 1))),
                        "config.wsgi:application",
                    ]
                ),
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
        self._supervise(children)

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

    def _supervise(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(
                            _("%(name)s exited with status %(code)s; stopping.")
                            % {"name": name, "code": child.returncode}
                        )
                        stopping = True
                time.sleep(0.2)
        finally:
            for name, child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT if name == "worker" else signal.SIGTERM)
            deadline = time.monotonic() + 20
            for _name, child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
