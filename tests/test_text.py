"""Text normalising, search keys and Indian digit grouping."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from sampark.core.numbers import group_indian
from sampark.core.text import clean, clean_lines, latin_key, name_key


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


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_it_removes_nul_bytes_from_ascii_and_devanagari_text():
    assert clean("Ram\x00esh\x00 Kumar") == "Ramesh Kumar"
    assert clean("रमेश\x00 कुमार") == "रमेश कुमार"
    assert clean("\x00") == ""


def test_it_removes_every_bidirectional_embedding_override_and_isolate():
    # "Trojan Source": RLO makes "txt.exe" display as "exe.txt"; stored, it is the order the reader sees.
    for control in BIDI:
        assert clean(f"Sita{control} Devi{control}") == "Sita Devi", hex(ord(control))
    assert clean("\u202eरमेश\u202c कुमार\u2066") == "रमेश कुमार"


def test_it_cleans_each_line_of_a_message_and_keeps_its_paragraphs():
    text = "  पहली\u202e पंक्ति\x00 \r\n\n\n\nदूसरी\u2067  पंक्ति\n"
    assert clean_lines(text) == "पहली पंक्ति\n\nदूसरी पंक्ति"
    assert clean_lines(None) == ""


# Text of every kind with the characters that must go mixed in: NUL, bidirectional controls, joiners.
dirty_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(BIDI + "\x00\u200d\u200b\n\t ")),
        st.sampled_from(list("कमरसािीुंँ़्")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)


@given(dirty_text)
def test_no_nul_or_bidirectional_control_survives_cleaning_and_nothing_else_is_lost(text):
    once = clean(text)
    assert not set(once) & set(BIDI + "\x00")
    assert clean(once) == once
    # Removing them is all that happens to them: the text without them cleans to the same result.
    assert clean(text.translate(dict.fromkeys(map(ord, BIDI + "\x00"), None))) == once
    lines = clean_lines(text)
    assert not set(lines) & set(BIDI + "\x00")
    assert clean_lines(lines) == lines
