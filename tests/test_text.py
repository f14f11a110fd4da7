"""Text normalising, search keys and Indian digit grouping."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from sampark.core.numbers import group_indian
from sampark.core.text import clean, latin_key, name_key


def test_it_normalises_devanagari_to_nfc_and_drops_invisible_joiners():
    decomposed = unicodedata.normalize("NFD", "मढ़ौरा")
    typed = f"  म\u200d{decomposed[1:]}\u200b  पंचायत\n"
    assert clean(typed) == "मढ़ौरा पंचायत"
    assert unicodedata.is_normalized("NFC", clean(typed))


def test_it_collapses_every_kind_of_space():
    assert clean("Sadar\u00a0 Chhapra\t\r\nblock ") == "Sadar Chhapra block"
    assert clean(None) == ""


def test_it_makes_latin_search_keys_from_devanagari():
    assert latin_key("गांधी मध्\u200dय विद्यालय") == "gandhi madhya vidyalaya"
    assert latin_key("BAGAHA-II") == "bagaha ii"


def test_it_matches_place_names_across_scripts_and_spellings():
    assert name_key("बगहा-2 (अंशतः)") == name_key("BAGAHA-II")
    assert name_key("PASHCHIM CHAMPARAN") == name_key("Paschim Champaran")
    assert name_key("मढ़ौरा") == name_key("MARHAURA")
    assert name_key("पानापुर") == name_key("PANAPUR")
    assert name_key("Saran") != name_key("Siwan")


def test_it_groups_digits_in_lakh_and_crore():
    assert group_indian(106519) == "1,06,519"
    assert group_indian(10000000) == "1,00,00,000"
    assert group_indian(999) == "999"
    assert group_indian(-1234567) == "-12,34,567"
    assert group_indian("72758.5") == "72,758.5"
    assert group_indian(None) == ""


@given(st.integers(min_value=0, max_value=10**15))
def test_it_groups_any_integer_reversibly(n):
    text = group_indian(n)
    assert int(text.replace(",", "")) == n
    groups = text.split(",")
    assert len(groups[-1]) == min(3, len(str(n)))
    assert all(len(g) == 2 for g in groups[1:-1])
    assert 1 <= len(groups[0]) <= (3 if len(groups) == 1 else 2)


@given(st.text(alphabet=st.sampled_from(list("कखगमनपरसहािीुेोंँ़् \u200d\u200c\u00a0\t")), max_size=40))
def test_it_cleans_idempotently(text):
    once = clean(text)
    assert clean(once) == once
    assert "\u200d" not in once and "  " not in once and once == once.strip()
