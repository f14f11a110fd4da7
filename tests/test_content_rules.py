"""The content library's rules live in services: two people, sources for claims, certificates for paid
ads, labels kept, revisions for every change, and the CSV import checks each row."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from sampark.content import services
from sampark.content.importers import SloganImport
from sampark.content.models import Item
from sampark.territory.importers.base import run_import

pytestmark = pytest.mark.django_db
State = Item.State


@pytest.fixture
def writer():
    return get_user_model().objects.create_user("writer", password="a long enough passphrase")


@pytest.fixture
def reviewer():
    return get_user_model().objects.create_user("reviewer", password="a long enough passphrase")


def test_it_takes_two_people_to_approve(writer, reviewer):
    item = services.item_create(by=writer, text_hi="  बूथ  चलो, ‍जीत पक्की ", hashtags="#BoothChalo")
    assert item.text_hi == "बूथ चलो, जीत पक्की"  # NFC, spaces and the zero-width joiner cleaned
    services.item_submit(item=item, by=writer)
    with pytest.raises(services.ContentError) as own:
        services.item_approve(item=item, by=writer)
    assert own.value.field == "approved_by"
    approved = services.item_approve(item=item, by=reviewer)
    assert (approved.state, approved.approved_by) == (State.APPROVED, reviewer)


def test_the_last_editor_cannot_approve_either_and_editing_an_approved_item_sends_it_back(writer, reviewer):
    item = services.item_create(by=writer, text_en="Every booth, ten youth")
    services.item_submit(item=item, by=writer)
    services.item_approve(item=item, by=reviewer)
    edited = services.item_update(item=item, by=reviewer, text_en="Every booth, ten young volunteers")
    assert edited.state == State.DRAFT and edited.approved_by is None
    services.item_submit(item=edited, by=reviewer)
    with pytest.raises(services.ContentError):
        services.item_approve(item=edited, by=reviewer)  # edited it: not theirs to approve now
    assert services.item_approve(item=edited, by=writer).state == State.APPROVED
    actions = list(edited.revisions.values_list("action", flat=True))
    assert actions == ["created", "submit", "approve", "edited", "submit", "approve"]
    assert edited.revisions.get(number=4).snapshot["text_en"] == "Every booth, ten young volunteers"


def test_a_factual_claim_needs_a_link_and_a_note_and_a_paid_ad_its_certificate(writer):
    with pytest.raises(services.ContentError) as claim:
        services.item_create(
            by=writer, text_hi="500 स्कूल बंद हुए", factual_claim=True, source_url="https://x.in"
        )
    assert claim.value.field == "source_url"
    with pytest.raises(services.ContentError) as ad:
        services.item_create(by=writer, text_hi="विज्ञापन", paid_advertisement=True)
    assert ad.value.field == "mcmc_certificate"
    ok = services.item_create(
        by=writer,
        text_hi="500 स्कूल बंद हुए",
        factual_claim=True,
        source_url="https://x.in/r",
        source_note="UDISE 2024",
    )
    assert ok.state == State.DRAFT
    assert not Item.objects.filter(text_hi="विज्ञापन").exists()


def test_only_a_reviewed_item_is_approved_and_only_an_approved_one_retired(writer, reviewer):
    item = services.item_create(by=writer, text_hi="नारा")
    with pytest.raises(services.ContentError):
        services.item_approve(item=item, by=reviewer)  # still a draft
    with pytest.raises(services.ContentError):
        services.item_retire(item=item, by=reviewer)
    services.item_submit(item=item, by=writer)
    with pytest.raises(services.ContentError) as no_note:
        services.item_send_back(item=item, by=reviewer, note="  ")
    assert no_note.value.field == "review_note"
    back = services.item_send_back(item=item, by=reviewer, note="add the hashtag")
    assert (back.state, back.review_note) == (State.DRAFT, "add the hashtag")


def test_the_slogan_import_checks_every_row_writes_nothing_on_error_and_skips_known_texts(tmp_path, writer):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "text_hi,text_en,factual_claim,source_url,source_note,ai_generated\n"
        "बूथ चलो,Booth chalo,no,,,no\n"
        "500 स्कूल बंद,,yes,,,no\n"
        "नया बिहार,,maybe,,,no\n",
        encoding="utf-8",
    )
    report = run_import(SloganImport, [bad], by="writer")
    assert not report.committed
    assert [(i.line, i.field) for i in report.errors] == [(3, "source_url"), (4, "factual_claim")]
    assert not Item.objects.exists()

    good = tmp_path / "good.csv"
    good.write_text(
        "text_hi,text_en,hashtags,ai_generated\nबूथ चलो,Booth chalo,#Bihar,yes\nहर घर दस्तक,,,no\n",
        encoding="utf-8",
    )
    assert run_import(SloganImport, [good], by="writer").committed
    again = run_import(SloganImport, [good], by="writer")
    assert again.committed and again.changed == 0
    assert Item.objects.count() == 2
    assert Item.objects.get(text_en="Booth chalo").ai_generated
    assert set(Item.objects.values_list("state", flat=True)) == {State.DRAFT}


def test_only_web_links_are_accepted(writer):
    with pytest.raises(services.ContentError) as script:
        services.item_create(by=writer, text_hi="नारा", link="javascript:alert(1)")
    assert script.value.field == "link"
    with pytest.raises(services.ContentError) as data:
        services.item_create(by=writer, text_hi="नारा", image_url="data:image/png;base64,AAAA")
    assert data.value.field == "image_url"
    assert (
        services.item_create(by=writer, text_hi="नारा", link="https://example.org/r").link
        == "https://example.org/r"
    )
