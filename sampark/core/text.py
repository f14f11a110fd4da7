"""Text on the way in: Unicode NFC, no invisible joiners, single spaces; Latin search keys.

Official lists and volunteer input mix Devanagari typed on many keyboards (with stray zero-width
joiners and double spaces) with upper- and lower-case Latin transliterations. Everything we store or
compare goes through :func:`clean` first, and names are compared through :func:`name_key`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from indic_transliteration import sanscript

# Zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen: invisible, and they break equality.
# NUL: PostgreSQL refuses it in text (a 500 on the next write), and nobody types it.
# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make a name or a
# message display in an order other than the one stored ("Trojan Source"); Hindi and English never need them.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\x00" + BIDI_CONTROLS), None)
_SPACES = re.compile(r"\s+")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean(value: str | None) -> str:
    """NFC, invisible characters (joiners, NUL, bidirectional controls) removed, whitespace (incl.
    newlines, NBSP) collapsed, stripped."""
    if not value:
        return ""
    if value.isascii() and "\x00" not in value:
        # Most imported fields (codes, numbers, Latin names) are ASCII: nothing to normalise or remove.
        return " ".join(value.split())
    # Joiners go first: removed after NFC, they could leave a sequence NFC would have composed.
    text = unicodedata.normalize("NFC", value.translate(_INVISIBLE))
    return _SPACES.sub(" ", text).strip()


def clean_lines(value: str | None) -> str:
    """:func:`clean` line by line, for texts whose line breaks matter (messages, slogans): single breaks
    kept, at most one empty line between paragraphs, none at either end."""
    text = "\n".join(clean(line) for line in (value or "").splitlines())
    return _BLANK_LINES.sub("\n\n", text).strip()


def has_devanagari(value: str) -> bool:
    return bool(_DEVANAGARI.search(value))


@lru_cache(maxsize=65536)
def latin_key(value: str) -> str:
    """A lower-case ASCII key for searching Devanagari text by Latin letters (never the reverse).

    Vowel length and nasalisation are dropped, since people type ``Bagaha``, ``Bagha`` and ``BAGAHA``
    for the same place.
    """
    text = clean(value)
    if has_devanagari(text):
        # Flapped ड़/ढ़ are written r/rh in Latin; anusvara and candrabindu are written n.
        text = unicodedata.normalize("NFD", text)
        text = text.replace("\u0921\u093c", "\u0930").replace("\u0922\u093c", "\u0930\u094d\u0939")
        text = text.replace("\u0902", "\u0928\u094d").replace("\u0901", "\u0928\u094d").replace("\u093c", "")
        text = sanscript.transliterate(unicodedata.normalize("NFC", text), sanscript.DEVANAGARI, sanscript.HK)
        # Harvard-Kyoto writes श as z, ष as S, ऋ as R, ङ/ञ as G/J: spell them as Latin lists do.
        for hk, latin in (("z", "sh"), ("S", "sh"), ("R", "ri"), ("G", "n"), ("J", "n")):
            text = text.replace(hk, latin)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", re.sub(r"[^a-z0-9 ]+", " ", text.lower())).strip()


_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}


@lru_cache(maxsize=65536)
def name_key(value: str) -> str:
    """A loose key for matching place names across sources and scripts.

    Collapses the spellings official lists disagree on: case, vowel doubling and the inherent ``a``
    (PASHCHIM/Paschim, Sikti/SIKTY), ``w``/``v``, ``sh``/``s``, roman numerals (BAGAHA-II = बगहा-2),
    and drops punctuation and the bracketed remarks such as ``(अंशतः)`` ("partly").
    """
    text = clean(value)
    text = re.sub(r"\([^)]*\)", " ", text)
    text = latin_key(text)
    words = []
    for word in text.split():
        words.append(_ROMAN.get(word, word))
    text = "".join(words)
    for a, b in (("sh", "s"), ("ch", "c"), ("w", "v"), ("y", "i"), ("ee", "i"), ("oo", "u"), ("ph", "f")):
        text = text.replace(a, b)
    # Drop vowels after the first letter: transliterations disagree most on vowels.
    return text[:1] + re.sub(r"[aeiou]", "", text[1:])


_FINAL_CONSONANT = re.compile(r"([\u0915-\u0939\u0958-\u095f]\u093c?)$")


@lru_cache(maxsize=65536)
def _word_key(word: str) -> str:
    # Hindi drops a word's final inherent vowel (रमेश is "Ramesh", not "Ramesha"): a virama says so.
    return latin_key(_FINAL_CONSONANT.sub("\\1\u094d", word))


def search_key(name: str) -> str:
    """A Latin key for a person's name, word by word, with Hindi's silent final vowel dropped, so
    "रमेश कुमार" and "Ramesh Kumar" share ``ramesh kumar``. Ten lakh names repeat a few thousand words, so
    the per-word cache hits where a per-name one would not. ``name`` must already be :func:`clean`."""
    return " ".join(key for key in map(_word_key, name.split(" ")) if key)
