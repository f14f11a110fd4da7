"""`sampark import slogans FILE --by USERNAME`: slogans from CSV into the library, as drafts for review.

Columns: ``text_hi`` and/or ``text_en`` (at least one per row), optional ``hashtags``, ``topic``,
``link``, ``image_url``, ``video_url``, ``factual_claim``/``ai_generated``/``election_matter``/
``paid_advertisement`` (yes/no), ``source_url``, ``source_note``, ``mcmc_certificate``. Every row is
checked against the library's rules (a factual claim needs its source, …) and reported by line; one
error and nothing is written. A row whose texts are already in the library is skipped, so a re-run
adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model

from sampark.core.text import clean
from sampark.territory.importers.base import BadFile, DictRows, Importer, Issue

from . import services
from .models import Item

TEXTS = ("text_hi", "text_en")
FLAGS = ("factual_claim", "ai_generated", "election_matter", "paid_advertisement")
TEXT_FIELDS = (
    "hashtags",
    "topic",
    "link",
    "image_url",
    "video_url",
    "source_url",
    "source_note",
    "mcmc_certificate",
)
YES = {"yes", "y", "true", "1", "हाँ", "हां"}
NO = {"", "no", "n", "false", "0", "नहीं"}


class SloganImport(Importer):
    kind = "slogans"
    help = "Slogans from CSV (text_hi and/or text_en, hashtags, topic, flags, sources) as drafts for review"

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--by", required=True, help="username recorded as the writer of the drafts")

    def run(self, paths: Iterable[Path]) -> None:
        user = get_user_model().objects.filter(username=self.options.get("by")).first()
        if user is None:
            raise BadFile(Issue("--by", None, "by", f"no user named {self.options.get('by')!r}"))
        known = set(Item.objects.values_list("text_hi", "text_en"))
        counts = self.report.count("slogans")
        for path in paths:
            rows = DictRows(path, required=())
            if not set(TEXTS) & set(rows.header):
                raise BadFile(Issue(path.name, None, "header", "needs a text_hi or a text_en column"))
            for line, row in rows:
                self.report.rows_read += 1
                fields: dict[str, Any] = {name: row.get(name, "") for name in (*TEXTS, *TEXT_FIELDS)}
                bad = False
                for flag in FLAGS:
                    value = clean(row.get(flag, "")).casefold()
                    if value not in YES | NO:
                        self.report.error(path.name, line, flag, f"expected yes or no, found {row[flag]!r}")
                        bad = True
                    fields[flag] = value in YES
                if bad:
                    continue
                key = (services.clean_text(fields["text_hi"]), services.clean_text(fields["text_en"]))
                if key in known:
                    counts.unchanged += 1
                    continue
                try:
                    services.item_create(by=user, **fields)
                except services.ContentError as exc:
                    self.report.error(path.name, line, exc.field, exc.message)
                    continue
                known.add(key)
                counts.created += 1
