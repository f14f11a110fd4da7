"""Mobile numbers: E.164, Indian mobiles only by default, judged by libphonenumber's own metadata.

``phonenumbers.parse`` + ``number_type`` cost ~45 µs a number (45 s for a 10-lakh import). Nearly every
number we see is Indian, so the common shapes (``98765 43210``, ``+91-98765-43210``, ``098765…``) are
reduced to ten digits here and tested against the *library's* Indian mobile pattern, compiled once
(~2 µs); everything else goes through ``phonenumbers`` in full. ``tests/test_phones.py`` checks the fast
path agrees with the library on random numbers.

Two rules sit in front of the library, which is lenient on purpose: it reads keypad letters as digits
(``98765abcde`` would become ``+919876522233``), so a number with letters is refused; and it accepts
any country, so a number outside ``SAMPARK_PHONE_REGIONS`` (default ``IN``) is refused with the reason.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneMetadata, PhoneNumberType

_SEPARATORS = str.maketrans("", "", " -().\u00a0\t")
_INDIAN = re.compile(r"(?:\+?91|0)?([0-9]{10})")


class InvalidPhone(ValueError):
    """A number we cannot message: the reason is a translatable sentence."""


@lru_cache(maxsize=1)
def _indian_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    meta = PhoneMetadata.metadata_for_region("IN")
    assert meta is not None and meta.general_desc and meta.mobile
    general, mobile = meta.general_desc.national_number_pattern, meta.mobile.national_number_pattern
    assert general and mobile
    return re.compile(general), re.compile(mobile)


def _outside(regions: list[str], number: phonenumbers.PhoneNumber) -> InvalidPhone:
    allowed = ", ".join(f"+{phonenumbers.country_code_for_region(r)} ({r})" for r in regions)
    region = phonenumbers.region_code_for_number(number) or "?"
    return InvalidPhone(
        gettext("a number from %(region)s (+%(code)s): only numbers from %(allowed)s are accepted")
        % {"region": region, "code": number.country_code, "allowed": allowed}
    )


def normalise_mobile(raw: str) -> str:
    """``raw`` as E.164 (``+919876543210``) if it is a mobile number of an allowed region
    (``SAMPARK_PHONE_REGIONS``); else :class:`InvalidPhone` saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("no phone number"))
    compact = text.translate(_SEPARATORS)
    regions: list[str] = settings.SAMPARK_PHONE_REGIONS
    # The fast path reads a number without a country code as Indian: only right when India is the first region.
    indian = _INDIAN.fullmatch(compact) if regions[0] == "IN" else None
    if indian:
        national = indian[1]
        general, mobile = _indian_patterns()
        if not general.fullmatch(national):
            raise InvalidPhone(_("not a valid Indian number"))
        if not mobile.fullmatch(national):
            raise InvalidPhone(_("a landline, not a mobile number"))
        return "+91" + national
    if any(ch.isalpha() for ch in compact):
        raise InvalidPhone(_("letters are not allowed in a phone number"))
    # Digits of any script (Devanagari ९८७… too: the library reads them), after at most one leading "+".
    if not compact.removeprefix("+").isdecimal():
        raise InvalidPhone(_("not a phone number: use only digits, spaces, - and ( )"))
    try:
        number = phonenumbers.parse(text, regions[0])
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(_("not a phone number")) from exc
    if number.country_code not in {phonenumbers.country_code_for_region(r) for r in regions}:
        raise _outside(regions, number)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_("not a valid phone number"))
    # One country code can serve several regions (+1: the US, Canada, …): the region itself must be allowed.
    if phonenumbers.region_code_for_number(number) not in regions:
        raise _outside(regions, number)
    if phonenumbers.number_type(number) not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhone(_("a landline, not a mobile number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """What people without the right to see phone numbers (and every log line) get: ``+91••••••3210``.

    The country code stays; of the national number at most the last four digits show, and never more
    than all but two of them (short numbers stay mostly hidden).
    """
    if len(e164) <= 5:  # not a number at all: hide every character
        return "•" * len(e164)
    try:
        number = phonenumbers.parse(e164, None)
        prefix, national = f"+{number.country_code}", str(number.national_number)
    except phonenumbers.NumberParseException:
        prefix, national = "", e164.lstrip("+")
    shown = max(0, min(4, len(national) - 2))
    return prefix + "•" * (len(national) - shown) + (national[-shown:] if shown else "")
