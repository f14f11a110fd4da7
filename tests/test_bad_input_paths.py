"""The bad-input rules hold where input arrives, not only in the helpers: phone numbers with letters or
from regions not allowed are refused by registration and by the volunteer import (by line), and NUL and
bidirectional controls are gone from the names, slogans and messages stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from sampark.content import services as content
from sampark.content.importers import SloganImport
from sampark.content.models import Item
from sampark.messaging.forms import BroadcastForm
from sampark.people import services as people
from sampark.people.models import Person
from sampark.territory.importers.base import run_import
from tests.helpers.volunteers import GOOD, RAMESH, SUNITA, people_digest, run, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"


def test_registration_refuses_a_number_with_letters_instead_of_storing_keypad_digits() -> None:
    with pytest.raises(people.PeopleError) as caught:
        people.person_register(name="Ram", phone="98765abcde", age=30)
    assert caught.value.field == "phone" and "letters" in str(caught.value)
    assert not Person.objects.filter(phone="+919876522233").exists()


def test_registration_refuses_a_foreign_mobile_with_the_reason() -> None:
    with pytest.raises(people.PeopleError) as caught:
        people.person_register(name="Ram", phone="+92 300 1234567", age=30)
    assert caught.value.field == "phone"
    assert str(caught.value) == "a number from PK (+92): only numbers from +91 (IN) are accepted"
    assert not Person.objects.exists()


@pytest.mark.usefixtures("demo_territory", "frozen_import_clock")
def test_the_volunteer_import_refuses_letters_and_foreign_numbers_by_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    before = people_digest()
    letters = (RAMESH[0], "98765abcde", *RAMESH[2:])
    foreign = (SUNITA[0], "+44 7400 123456", *SUNITA[2:])
    report = run(write(tmp_path / "v.csv", letters, foreign, *GOOD[2:]))
    assert not report.committed
    assert [(i.line, i.field, i.reason) for i in report.errors] == [
        (2, "phone", "letters are not allowed in a phone number"),
        (3, "phone", "a number from GB (+44): only numbers from +91 (IN) are accepted"),
    ]
    assert people_digest() == before


def test_a_name_is_stored_without_nul_or_bidirectional_controls() -> None:
    person = people.person_register(name=f"{RLO}सीता\x00 देवी{LRI}x{PDI}", phone="98765 43210", age=30)
    person.refresh_from_db()
    assert person.name == "सीता देवीx"


def test_slogans_are_stored_without_them_by_the_library_and_by_the_import(tmp_path: Path) -> None:
    writer = get_user_model().objects.create_user("writer", password="a long enough passphrase")
    item = content.item_create(by=writer, text_hi=f"बूथ{RLO} चलो\x00\nजीत{LRI} पक्की", topic=f"t{PDI}")
    item.refresh_from_db()
    assert (item.text_hi, item.topic) == ("बूथ चलो\nजीत पक्की", "t")
    path = tmp_path / "slogans.csv"
    path.write_text(f"text_hi,text_en\nहर{RLO} घर,Every{LRI} home\n", encoding="utf-8")
    assert run_import(SloganImport, [path], by="writer").committed
    assert Item.objects.filter(text_hi="हर घर", text_en="Every home").exists()


def test_a_composed_message_loses_them_and_keeps_its_lines() -> None:
    sender = get_user_model().objects.create_user("sender", password="a long enough passphrase")
    form = BroadcastForm(
        data={"text_hi": f"पहली{RLO} पंक्ति\r\nदूसरी{LRI} पंक्ति", "text_en": "a\u202ab"}, user=sender
    )
    form.is_valid()  # the audience is incomplete; the texts are cleaned all the same
    assert form.cleaned_data["text_hi"] == "पहली पंक्ति\nदूसरी पंक्ति"
    assert form.cleaned_data["text_en"] == "ab"
