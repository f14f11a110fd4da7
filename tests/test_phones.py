"""Mobile numbers: the Indian shapes people type become E.164, landlines and junk are refused, the fast
path agrees with libphonenumber, and a masked number never shows more than its last four digits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
import pytest
from django.utils import translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from sampark.people.phones import InvalidPhone, mask, normalise_mobile

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are checked in English (the default language is Hindi)."""
    with translation.override("en"):
        yield


def library_verdict(text: str) -> str | None:
    """What libphonenumber alone says: the E.164 form of a valid mobile number, else ``None``."""
    try:
        number = phonenumbers.parse(text, "IN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def fast_verdict(text: str) -> str | None:
    try:
        return normalise_mobile(text)
    except InvalidPhone:
        return None


@pytest.mark.parametrize(
    "raw",
    [
        "9876543210",
        "98765 43210",
        "98765-43210",
        "+919876543210",
        "+91 98765 43210",
        "+91-98765-43210",
        "919876543210",
        "91 98765 43210",
        "09876543210",
        "098765 43210",
        "0 98765-43210",
        "  +91 (98765) 43210  ",
        "+91\u00a098765\u00a043210",
    ],
)
def test_it_accepts_the_common_indian_shapes_as_e164(raw: str) -> None:
    assert normalise_mobile(raw) == "+919876543210"


def test_it_keeps_a_ten_digit_number_that_itself_starts_with_91() -> None:
    # "9123456789" is a mobile number, not "91" + an eight-digit number.
    assert normalise_mobile("9123456789") == "+919123456789"
    assert normalise_mobile("+91 91234 56789") == "+919123456789"


@pytest.mark.parametrize(
    "raw",
    ["0612-2345678", "0612 2345678", "+91 612 2345678", "06122345678", "+91-11-23456789", "011 2345 6789"],
)
def test_it_refuses_landlines(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile(raw)
    assert "landline" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    ["12345", "1234567890", "0000000000", "98765 4321", "98765 432101", "phone", "+91 abcde fghij", "++91"],
)
def test_it_refuses_numbers_that_are_not_valid(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_mobile(raw)


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_it_refuses_an_empty_number(raw: str | None) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile(raw)  # type: ignore[arg-type]
    assert "no phone number" in str(caught.value)


def test_it_accepts_a_foreign_mobile_through_the_library() -> None:
    assert normalise_mobile("+44 7400 123456") == "+447400123456"


ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


@settings(max_examples=2000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(ten_digits)
@example("9876543210")
@example("6122345678")
@example("6000000000")
@example("5999999999")
@example("1800123456")
def test_the_fast_path_agrees_with_libphonenumber_on_random_ten_digit_numbers(digits: str) -> None:
    assert fast_verdict(digits) == library_verdict(digits)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(
    ten_digits,
    st.sampled_from(["", "0", "91", "+91", "+91 ", "0 "]),
    st.sampled_from(["", " ", "-"]),
)
def test_the_fast_path_agrees_with_libphonenumber_on_prefixed_and_spaced_numbers(
    digits: str, prefix: str, separator: str
) -> None:
    typed = prefix + digits[:5] + separator + digits[5:]
    assert fast_verdict(typed) == library_verdict(typed)


indian_mobiles = ten_digits.filter(lambda d: fast_verdict(d) is not None)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(indian_mobiles)
def test_a_masked_indian_number_shows_only_its_last_four_digits(digits: str) -> None:
    e164 = normalise_mobile(digits)
    masked = mask(e164)
    assert masked == "+91" + "•" * 6 + digits[-4:]
    # Besides the country code, the only digits left are the last four.
    assert re.sub(r"\D", "", masked.removeprefix("+91")) == digits[-4:]
    assert digits[:6] not in masked


@pytest.mark.parametrize("text", ["", "+", "+9", "+91", "+919", "12345"])
def test_it_masks_very_short_strings_entirely(text: str) -> None:
    assert mask(text) == "•" * len(text)


def _foreign_mobiles() -> list[str]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if number is None:
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if fast_verdict(e164) == e164:
            found.append(e164)
    return found


def test_a_masked_foreign_mobile_never_shows_more_than_its_last_four_digits() -> None:
    leaks = []
    for e164 in _foreign_mobiles():
        number = phonenumbers.parse(e164)
        national = str(number.national_number)
        country = "+" + str(number.country_code)
        masked = mask(e164)
        shown = re.sub(r"\D", "", masked.removeprefix(country)) if masked.startswith(country) else None
        # Only part of the country code, or the country code and at most the last four digits.
        too_much = (
            not (len(shown) <= 4 and national.endswith(shown))
            if shown is not None
            else sum(ch.isdigit() for ch in masked) > 4 + len(country) - 1
        )
        if too_much:
            leaks.append((e164, masked))
    assert leaks == []
