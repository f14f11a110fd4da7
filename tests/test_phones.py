"""Mobile numbers: the Indian shapes people type become E.164, landlines, letters, junk and numbers of
regions not allowed are refused, the fast path agrees with libphonenumber (plus those two rules), and a
masked number never shows more than its last four digits."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
import pytest
from django.test import override_settings
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


def library_verdict(text: str, regions: tuple[str, ...] = ("IN",)) -> str | None:
    """What libphonenumber says, plus our two rules in front of it: the E.164 form of a valid mobile
    number of one of ``regions`` (parsed as the first one's when it has no country code) and written
    without letters (the library would read keypad letters as digits), else ``None``."""
    if any(ch.isalpha() for ch in text):
        return None
    try:
        number = phonenumbers.parse(text, regions[0])
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    if phonenumbers.region_code_for_number(number) not in regions:
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


@pytest.mark.parametrize("raw", ["98765abcde", "+91 98765 abcde", "9876S43210", "98765 4321O", "९८७६५४३२१क"])
def test_it_refuses_letters_the_library_would_read_as_keypad_digits(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile(raw)
    assert "letters" in str(caught.value)


def test_the_library_alone_would_have_turned_letters_into_digits() -> None:
    # Why the letters rule exists: this is what was stored before it.
    number = phonenumbers.parse("98765abcde", "IN")
    assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == "+919876522233"


@pytest.mark.parametrize(
    "raw", ["98765#43210", "98765+43210", "9876543210*1", "98765/43210", "+ 98765_43210"]
)
def test_it_refuses_other_characters_in_a_number(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile(raw)
    assert "not a phone number" in str(caught.value)


def test_it_reads_digits_typed_in_devanagari() -> None:
    assert normalise_mobile("९८७६५ ४३२१०") == "+919876543210"


@pytest.mark.parametrize(
    ("raw", "region", "code"),
    [
        ("+92 300 1234567", "PK", "92"),
        ("0092 300 1234567", "PK", "92"),
        ("+1 202 555 0123", "US", "1"),
        ("+44 7400 123456", "GB", "44"),
        ("+977 984 1234567", "NP", "977"),
    ],
)
def test_it_refuses_a_mobile_from_a_region_not_allowed_and_says_which(
    raw: str, region: str, code: str
) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile(raw)
    assert str(caught.value) == (f"a number from {region} (+{code}): only numbers from +91 (IN) are accepted")


def test_it_explains_a_foreign_number_in_hindi() -> None:
    with translation.override("hi"), pytest.raises(InvalidPhone) as caught:
        normalise_mobile("+92 300 1234567")
    assert "+92" in str(caught.value) and "स्वीकार" in str(caught.value)


@override_settings(SAMPARK_PHONE_REGIONS=["IN", "GB"])
def test_it_accepts_a_mobile_from_a_region_the_setting_allows() -> None:
    assert normalise_mobile("+44 7400 123456") == "+447400123456"
    assert normalise_mobile("98765 43210") == "+919876543210"
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile("+92 300 1234567")
    assert "+91 (IN), +44 (GB)" in str(caught.value)


@override_settings(SAMPARK_PHONE_REGIONS=["US"])
def test_it_refuses_a_region_that_shares_the_country_code_of_an_allowed_one() -> None:
    assert normalise_mobile("+1 202 555 0123") == "+12025550123"
    with pytest.raises(InvalidPhone) as caught:
        normalise_mobile("+1 416 555 0123")  # Toronto: +1, but Canada
    assert "CA (+1)" in str(caught.value)


@override_settings(SAMPARK_PHONE_REGIONS=["NP", "IN"])
def test_a_number_without_country_code_belongs_to_the_first_region() -> None:
    assert normalise_mobile("984 1234567") == "+9779841234567"
    assert normalise_mobile("+91 98765 43210") == "+919876543210"


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


# Typed numbers of every kind: Indian and foreign prefixes (with the international 00 too), letters
# inside, separators. The verdict must be the library's plus the letters and regions rules.
typed_numbers = st.builds(
    lambda prefix, body, separator: prefix + separator.join(body),
    st.sampled_from(["", "0", "91", "+91", "+91 ", "0091", "+92 ", "0092", "+1 ", "+44 ", "+977 ", "+"]),
    st.lists(st.text(alphabet="0123456789abcoOSI", min_size=1, max_size=6), min_size=1, max_size=4),
    st.sampled_from(["", " ", "-"]),
)


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(typed_numbers)
@example("98765abcde")
@example("+92 3001234567")
@example("+44 7400123456")
@example("0092 3001234567")
def test_it_agrees_with_libphonenumber_plus_the_letters_and_regions_rules(typed: str) -> None:
    assert fast_verdict(typed) == library_verdict(typed)


ALL_REGIONS = tuple(sorted(phonenumbers.SUPPORTED_REGIONS - {"IN"}))


@settings(max_examples=500, deadline=None, derandomize=True)
@given(typed_numbers)
@example("+44 7400123456")
@example("+1 2025550123")
def test_with_every_region_allowed_it_agrees_with_libphonenumber_on_foreign_numbers(typed: str) -> None:
    regions = ("IN", *ALL_REGIONS)
    with override_settings(SAMPARK_PHONE_REGIONS=list(regions)):
        assert fast_verdict(typed) == library_verdict(typed, regions)


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
    """Every region's example mobile that the parser accepts once its region is allowed."""
    found = []
    with override_settings(SAMPARK_PHONE_REGIONS=["IN", *ALL_REGIONS]):
        for region in ALL_REGIONS:
            number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if fast_verdict(e164) == e164:
                found.append(e164)
    return found


def test_a_masked_foreign_mobile_never_shows_more_than_its_last_four_digits() -> None:
    leaks = []
    foreign = _foreign_mobiles()
    assert len(foreign) > 200  # the check below is over real numbers, not an empty list
    for e164 in foreign:
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
