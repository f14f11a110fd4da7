"""Every user-facing string has a Hindi translation, compiled, and none is left unextracted."""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "sampark" / "locale" / "hi" / "LC_MESSAGES"


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for each entry of a .po file (no plurals or contexts are used here)."""
    entries: list[tuple[str, str, bool]] = []
    msgid = msgstr = None
    fuzzy = False
    field = None
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            msgid, field = ast.literal_eval(line[6:]), "id"
        elif line.startswith("msgid_plural "):
            field = "plural"  # the singular stands for the entry
        elif line.startswith("msgstr ") or line.startswith("msgstr[0] "):
            msgstr, field = ast.literal_eval(line.split(" ", 1)[1]), "str"
        elif line.startswith("msgstr["):
            field = "other"  # Hindi's plural form: must be filled too
            if not ast.literal_eval(line.split(" ", 1)[1]).strip():
                msgstr = ""
        elif line.startswith('"'):
            if field == "id":
                msgid = (msgid or "") + ast.literal_eval(line)
            elif field == "str":
                msgstr = (msgstr or "") + ast.literal_eval(line)
        elif not line.strip() and msgid is not None:
            entries.append((msgid, msgstr or "", fuzzy))
            msgid = msgstr = None
            fuzzy = False
    return [e for e in entries if e[0]]  # drop the header


def test_it_translates_every_string_to_hindi():
    entries = _entries(LOCALE / "django.po")
    assert len(entries) > 150
    assert [e[0] for e in entries if not e[1].strip()] == []
    assert [e[0] for e in entries if e[2]] == []  # no fuzzy guesses left


def test_it_ships_a_compiled_catalogue_matching_the_po_file():
    with (LOCALE / "django.mo").open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    plurals = set(_plural_ids(LOCALE / "django.po"))
    for msgid, msgstr, _fuzzy in _entries(LOCALE / "django.po"):
        if msgid in plurals:
            assert catalogue.ngettext(msgid, msgid + "s", 1) == msgstr, msgid
        else:
            assert catalogue.gettext(msgid) == msgstr, msgid


def _plural_ids(po: Path) -> list[str]:
    lines = po.read_text(encoding="utf-8").splitlines()
    return [
        ast.literal_eval(lines[i - 1][6:])
        for i, line in enumerate(lines)
        if line.startswith("msgid_plural ") and lines[i - 1].startswith("msgid ")
    ]


def test_it_has_extracted_every_translatable_string(tmp_path):
    if not shutil.which("xgettext"):
        if os.environ.get("CI") == "true":
            pytest.fail("GNU gettext (xgettext) is needed in CI to check extraction")
        pytest.skip("GNU gettext not installed")
    copy = tmp_path / "sampark"
    shutil.copytree(ROOT / "sampark", copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "SAMPARK_HOME": str(tmp_path / "home"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sampark.cli",
            "makemessages",
            "-l",
            "hi",
            "--no-obsolete",
            "--add-location",
            "file",
        ],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = {e[0] for e in _entries(copy / "locale" / "hi" / "LC_MESSAGES" / "django.po")}
    known = {e[0] for e in _entries(LOCALE / "django.po") if e[1]}
    assert sorted(fresh - known) == []
