"""Shared set-up for benchmarks: a throwaway SAMPARK_HOME, Django configured, migrations applied."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_in_temp_home(prefix: str) -> Path:
    """Point Sampark at a fresh temporary home (SQLite unless DATABASE_URL is set) and migrate."""
    home = Path(tempfile.mkdtemp(prefix=f"sampark-bench-{prefix}-"))
    os.environ["SAMPARK_HOME"] = str(home)
    os.environ.setdefault("SAMPARK_LANGUAGE", "en")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return home


def data_dir() -> Path:
    path = Path(os.environ.get("SAMPARK_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not (path / "SOURCES.md").exists():
        sys.exit(f"real data not found at {path} (set SAMPARK_DATA_DIR)")
    return path


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}"
