"""Helpers shared by the territory importers: resolving a state, matching names, parsing codes."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

from sampark.core.text import clean, latin_key, name_key
from sampark.territory.models import State

from .base import BadFile, Issue

T = TypeVar("T")
_ROMAN_TAIL = re.compile(r"(?<=[-\s])[IiVvXx]+\b")
_REMARK = re.compile(r"\([^)]*\)")
# Lists name the direction in a place name in either language (Kusheswar Asthan East = कुशेश्वर स्थान
# पूर्वी = Kusheshwar Asthan Purbi, West Champaran = Pashchim Champaran); keys are Latin (see latin_key).
_DIRECTIONS = {
    **dict.fromkeys(("east", "purbi", "purvi", "poorvi", "purva", "purab"), "purbi"),
    **dict.fromkeys(("west", "paschim", "pashchim", "pazcima", "pazcim", "pachhim"), "paschim"),
    **dict.fromkeys(("north", "uttar", "uttari", "uttara"), "uttar"),
    **dict.fromkeys(("south", "dakshin", "dakshini", "daksina", "daksini", "dakshina"), "dakshin"),
}


def display_name(value: str) -> str:
    """Official lists shout (``PASHCHIM CHAMPARAN``); show them in title case, keep mixed case as given."""
    text = clean(value)
    if text.isupper():
        text = text.title()
        # Keep roman numerals (BAGAHA-II → Bagaha-II, not Bagaha-Ii).
        text = _ROMAN_TAIL.sub(lambda m: m.group(0).upper(), text)
    return text


def parse_code(value: str) -> int | None:
    """An official numeric code; ``""``/``"0"``/``"00000"`` mean absent."""
    text = clean(value)
    if not text or not text.isdigit() or int(text) == 0:
        return None
    return int(text)


def census_code(value: str) -> str:
    """A Census code as text (leading zeros matter: "01"); LGD writes ``0``/``00`` for "none yet"."""
    text = clean(value)
    return "" if not text.strip("0") else text


def state_matches(spec: str, *, lgd_code: str = "", name: str = "", eci_code: str = "") -> bool:
    """Does a ``--state`` value (LGD code, ECI code like S04, or name) name this row's state?"""
    spec = clean(spec)
    if spec.isdigit():
        return clean(lgd_code) == spec
    if eci_code and spec.upper() == clean(eci_code).upper():
        return True
    return bool(name) and name_key(spec) == name_key(name)


def resolve_state(spec: str | None) -> State:
    """The state a ``--state`` option names; without one, the only state in the database."""
    if spec:
        text = clean(spec)
        for state in State.objects.all():
            if state_matches(text, lgd_code=str(state.lgd_code), name=state.name_en, eci_code=state.eci_code):
                return state
            if state.name_hi and clean(state.name_hi) == text:
                return state
        raise BadFile(
            Issue("--state", None, "state", f"no state {spec!r} in the database; import lgd-states first")
        )
    # All-India LGD files bring every state; the one being organised is the one with districts.
    states = list(State.objects.all()[:2])
    if len(states) > 1:
        states = list(State.objects.filter(districts__isnull=False).distinct()[:2])
    if len(states) == 1:
        return states[0]
    reason = (
        "no state with districts in the database; import lgd-states and lgd-districts first"
        if not states
        else "several states have districts; say which with --state (LGD code, ECI code or name)"
    )
    raise BadFile(Issue("--state", None, "state", reason))


def best_name_match(name: str, candidates: Iterable[tuple[str, T]], *, cutoff: float = 0.82) -> T | None:
    """The candidate whose name matches ``name``: equal loose keys first, else one clear fuzzy winner.

    ``candidates`` are ``(name, value)`` pairs; names may be in either script, and a direction may be
    written in either language (East = Purbi). When several candidates share the loose key, only one
    with the very same letters wins. Returns ``None`` when nothing is close enough or two candidates
    tie, so a guess is never made.
    """
    target = _words(name)
    key = name_key(target)
    pool = list(candidates)
    exact = {id(v): v for n, v in pool if n and name_key(_words(n)) == key}
    if len(exact) > 1:
        # The loose key drops vowels, so BAISI and BAISA (two blocks) share one: the same letters decide,
        # and if they do not, the name is ambiguous.
        exact = {id(v): v for n, v in pool if n and _words(n) == target}
        return next(iter(exact.values())) if len(exact) == 1 else None
    if len(exact) == 1:
        return next(iter(exact.values()))
    scored = sorted(
        (
            (difflib.SequenceMatcher(None, target, _words(n)).ratio(), i)
            for i, (n, _v) in enumerate(pool)
            if n
        ),
        reverse=True,
    )
    if not scored or scored[0][0] < cutoff:
        return None
    if (
        len(scored) > 1
        and scored[1][0] >= scored[0][0] - 0.03
        and pool[scored[1][1]][1] is not pool[scored[0][1]][1]
    ):
        return None
    return pool[scored[0][1]][1]


@lru_cache(maxsize=65536)
def _words(name: str) -> str:
    """The Latin words of a name for matching: remarks in brackets dropped, directions in one spelling."""
    return " ".join(_DIRECTIONS.get(word, word) for word in latin_key(_REMARK.sub(" ", clean(name))).split())
