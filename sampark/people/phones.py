"""Mobile numbers: E.164, Indian mobiles only by default, judged by libphonenumber's own metadata.

``phonenumbers.parse`` + ``number_type`` cost ~45 µs a number (45 s for a 10-lakh import). Nearly every
number we see is Indian, so the common shapes (``98765 43210``, ``+91-98765-43210``, ``098765…``) are
reduced to ten digits here and tested against the *library's* Indian mobile pattern, compiled once
(~2 µs); everything else goes through ``phonenumbers`` in full. ``tests/test_phones.py`` checks the fast
path agrees with the library on random numbers.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
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


def normalise_mobile(raw: str) -> str:
    """``raw`` as E.164 (``+919876543210``) if it is a mobile number; else :class:`InvalidPhone`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("no phone number"))
    compact = text.translate(_SEPARATORS)
    indian = _INDIAN.fullmatch(compact)
    if indian:
        national = indian[1]
        general, mobile = _indian_patterns()
        if not general.fullmatch(national):
            raise InvalidPhone(_("not a valid Indian number"))
        if not mobile.fullmatch(national):
            raise InvalidPhone(_("a landline, not a mobile number"))
        return "+91" + national
    try:
        number = phonenumbers.parse(text, "IN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(_("not a phone number")) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_("not a valid phone number"))
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
