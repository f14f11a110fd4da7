"""Click-to-chat assignments in panchayat Harnatand (booths 1-1, 1-2, 1-2A of Bagaha-1).

Personas: the panchayat coordinator of Harnatand (creates assignments), the block coordinator of
Bagaha-1 (sees them), a panchayat coordinator in Patna (sees nothing), and two of Harnatand's
volunteers — a booth volunteer at 1-1 and the booth president of 1-2 — who each open WhatsApp chats
for their own batch and mark what happened. Ten people with WhatsApp consent live in Harnatand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from sampark.feed import selectors, services
from sampark.feed.models import Assignment, AssignmentContact
from sampark.people import services as people
from sampark.people.models import Channel, Consent, ContactPoint, Person, Role
from sampark.territory.models import Booth
from tests.helpers.campaign import client_for, feed_url, html, login, register
from tests.helpers.territory import Tree, build_bihar

pytestmark = pytest.mark.django_db
Status = AssignmentContact.Status
TEMPLATE = "नमस्ते {name} जी! रविवार को बूथ पर मिलिए। {0} {name.upper} 100%"


def hi(message: str) -> str:
    """A UI string as the Hindi (default) pages show it."""
    with translation.override("hi"):
        return gettext(message)


def booth(code: str) -> Booth:
    return Booth.objects.get(code=code)


@dataclass
class Harnatand:
    tree: Tree
    users: dict[str, Any]
    first: Person  # booth volunteer at 1-1
    president: Person  # booth president at 1-2
    contacts: list[Person]  # संपर्क 01 … 10, in name order

    def client(self, name: str) -> Any:
        return client_for(self.users[name])

    def create(self, **kw: Any) -> Assignment:
        kw = {
            "title": "रविवार की बैठक",
            "template": TEMPLATE,
            "unit_key": "panchayat:5001",
            "batch_size": 4,
        } | kw
        return services.assignment_create(by=self.users["panchayat"], **kw)


@pytest.fixture
def harnatand() -> Harnatand:
    tree = build_bihar()
    sms = {"channels": [Channel.SMS]}
    users = {
        "panchayat": login(
            register(1, booth("1-1"), role=Role.PANCHAYAT_COORDINATOR, unit=tree.harnatand, **sms),
            "panchayat",
        ),
        "block": login(
            register(2, booth("1-1"), role=Role.BLOCK_COORDINATOR, unit=tree.bagaha, **sms), "block"
        ),
        "elsewhere": login(
            register(3, booth("181-1"), role=Role.PANCHAYAT_COORDINATOR, unit=tree.sabalpur, **sms),
            "elsewhere",
        ),
    }
    first = register(4, booth("1-1"))
    president = register(5, booth("1-2"), role=Role.BOOTH_PRESIDENT)
    users["first"] = login(first, "first")
    homes = ["1-1", "1-2", "1-2A"]
    contacts = [
        people.person_register(
            name=f"संपर्क {n:02d}", phone=f"91234{n:05d}", age=30, home_booth=booth(homes[n % 3])
        )
        for n in range(1, 11)
    ]
    # Not contacts: SMS only; WhatsApp consent withdrawn; another panchayat; another district.
    people.person_register(name="केवल एसएमएस", phone="9123400011", age=30, home_booth=booth("1-1"), **sms)
    gone = people.person_register(name="मना किया", phone="9123400012", age=30, home_booth=booth("1-2"))
    people.consent_withdraw(contact_point=gone.contact_points.get(channel=Channel.WHATSAPP))
    people.person_register(name="नौरंगिया", phone="9123400013", age=30, home_booth=booth("1-3"))
    people.person_register(name="पटना", phone="9123400014", age=30, home_booth=booth("181-1"))
    return Harnatand(tree, users, first, president, contacts)


def assigned(assignment: Assignment) -> list[tuple[str, str]]:
    rows = AssignmentContact.objects.filter(assignment=assignment).select_related(
        "contact_point__person", "volunteer"
    )
    return sorted((row.contact_point.person.name, row.volunteer.name) for row in rows)


# --- creating ----------------------------------------------------------------------------------------


def test_it_splits_the_consenting_whatsapp_contacts_into_batches_per_volunteer(harnatand):
    assignment = harnatand.create()

    first, president = harnatand.first.name, harnatand.president.name
    # Batches of 4 in name order: 01–04 to the first volunteer, 05–08 to the president, 09–10 round again.
    expected = [first] * 4 + [president] * 4 + [first] * 2
    assert assigned(assignment) == [(f"संपर्क {n:02d}", v) for n, v in enumerate(expected, start=1)]
    assert assignment.unit_key == "panchayat:5001"
    assert assignment.created_by == harnatand.users["panchayat"]
    points = AssignmentContact.objects.filter(assignment=assignment).values_list(
        "contact_point__channel", flat=True
    )
    assert set(points) == {Channel.WHATSAPP}


def test_a_booth_assignment_goes_to_that_booths_volunteers_only(harnatand):
    assignment = harnatand.create(unit_key="booth:1-2", batch_size=25)
    in_booth = [p.name for p in harnatand.contacts if p.home_booth.code == "1-2"]
    assert assigned(assignment) == [(name, harnatand.president.name) for name in in_booth]


def test_it_leaves_the_volunteers_themselves_out(harnatand):
    assignment = harnatand.create()
    people_reached = set(
        AssignmentContact.objects.filter(assignment=assignment).values_list(
            "contact_point__person_id", flat=True
        )
    )
    assert not people_reached & {harnatand.first.pk, harnatand.president.pk}


@pytest.mark.parametrize(
    ("user", "changes", "field"),
    [
        ("panchayat", {"unit_key": "district:231"}, "unit_key"),
        ("panchayat", {"unit_key": "block:1001"}, "unit_key"),
        ("panchayat", {"unit_key": "booth:99-9"}, "unit_key"),
        ("panchayat", {"unit_key": "booth:1-2A"}, "unit_key"),  # no volunteer there
        ("panchayat", {"unit_key": "panchayat:#999"}, "unit_key"),
        ("panchayat", {"template": "  "}, "template"),
        ("panchayat", {"title": ""}, "title"),
        ("panchayat", {"batch_size": 0}, "batch_size"),
        ("elsewhere", {}, "unit_key"),  # Harnatand is outside Sabalpur's coordinator's area
        ("first", {}, "unit_key"),  # a booth volunteer may not message anyone
    ],
)
def test_it_refuses_assignments_it_cannot_make(harnatand, user, changes, field):
    kw = {"title": "रविवार की बैठक", "template": TEMPLATE, "unit_key": "panchayat:5001", "batch_size": 4}
    with pytest.raises(services.FeedError) as refused:
        services.assignment_create(by=harnatand.users[user], **(kw | changes))
    assert refused.value.field == field
    assert not Assignment.objects.exists()


def test_it_refuses_a_unit_where_nobody_consents_on_whatsapp(harnatand):
    for person in harnatand.contacts:
        people.consent_withdraw_all(person=person)
    with pytest.raises(services.FeedError, match="WhatsApp"):
        harnatand.create()


# --- marking -----------------------------------------------------------------------------------------


def row_of(assignment: Assignment, name: str) -> AssignmentContact:
    return AssignmentContact.objects.get(assignment=assignment, contact_point__person__name=name)


def test_only_the_assigned_volunteer_may_mark_a_contact(harnatand):
    assignment = harnatand.create()
    row = row_of(assignment, "संपर्क 01")  # the first volunteer's
    with pytest.raises(services.FeedError):
        services.assignment_mark(volunteer=harnatand.president, contact=row, status=Status.SENT)
    row.refresh_from_db()
    assert row.status == Status.PENDING
    services.assignment_mark(volunteer=harnatand.first, contact=row, status=Status.SENT)
    row.refresh_from_db()
    assert row.status == Status.SENT
    with pytest.raises(services.FeedError):
        services.assignment_mark(volunteer=harnatand.first, contact=row, status="bored")


def test_asked_to_stop_withdraws_that_consent_for_good(harnatand, client):
    assignment = harnatand.create()
    again = harnatand.create(title="दूसरी बैठक")
    row = row_of(assignment, "संपर्क 02")
    person = row.contact_point.person

    services.assignment_mark(volunteer=harnatand.first, contact=row, status=Status.STOPPED)

    whatsapp = ContactPoint.objects.get(person=person, channel=Channel.WHATSAPP)
    assert not whatsapp.consent_live
    consent = Consent.objects.get(contact_point=whatsapp)
    assert consent.withdrawn_at is not None and consent.withdrawn_via == "assignment"
    assert ContactPoint.objects.get(person=person, channel=Channel.SMS).consent_live  # only that channel
    with pytest.raises(services.FeedError):
        services.assignment_mark(volunteer=harnatand.first, contact=row, status=Status.SENT)
    # Gone from every batch at once, and no chat opens for it any more.
    names = [r.contact_point.person.name for b in selectors.batches_for(harnatand.first) for r in b.rows]
    assert "संपर्क 02" not in names
    _link, token = services.link_issue(person=harnatand.first)
    other = row_of(again, "संपर्क 02")
    response = client.get(feed_url(token, f"chat/{other.pk}/"))
    assert response.status_code == 303 and "wa.me" not in response["Location"]
    # A later assignment leaves them out.
    assert "संपर्क 02" not in [name for name, _v in assigned(harnatand.create(title="तीसरी"))]


# --- in the volunteer's feed ------------------------------------------------------------------------------


def batch_names(page: str) -> list[str]:
    return re.findall(r'<span class="n">([^<]*)</span>', page)


def test_each_volunteer_sees_only_their_own_batch(harnatand, client):
    assignment = harnatand.create()
    _link, first = services.link_issue(person=harnatand.first)
    _link, president = services.link_issue(person=harnatand.president)

    mine = html(client.get(feed_url(first)))
    theirs = html(client.get(feed_url(president)))

    assert batch_names(mine) == ["संपर्क 01", "संपर्क 02", "संपर्क 03", "संपर्क 04"]  # one batch of 4 at a time
    assert batch_names(theirs) == ["संपर्क 05", "संपर्क 06", "संपर्क 07", "संपर्क 08"]
    assert assignment.title in mine
    assert hi("%(done)s of %(total)s done") % {"done": 0, "total": 6} in mine
    # Someone else's contact cannot be opened or marked through my link.
    other = row_of(assignment, "संपर्क 05")
    assert client.get(feed_url(first, f"chat/{other.pk}/")).status_code == 404
    assert client.post(feed_url(first, f"mark/{other.pk}/"), {"s": "sent"}).status_code == 404
    other.refresh_from_db()
    assert other.status == Status.PENDING


def test_the_next_contacts_come_up_as_the_batch_is_worked_through(harnatand, client):
    assignment = harnatand.create()
    _link, token = services.link_issue(person=harnatand.first)
    for name in ("संपर्क 01", "संपर्क 02", "संपर्क 03"):
        client.post(feed_url(token, f"mark/{row_of(assignment, name).pk}/"), {"s": "no_wa"})
    page = html(client.get(feed_url(token)))
    assert batch_names(page) == ["संपर्क 04", "संपर्क 09", "संपर्क 10"]
    assert hi("%(done)s of %(total)s done") % {"done": 3, "total": 6} in page


def test_it_opens_whatsapp_with_the_personalised_message(harnatand, client):
    assignment = harnatand.create()
    row = row_of(assignment, "संपर्क 01")
    _link, token = services.link_issue(person=harnatand.first)
    page = html(client.get(feed_url(token)))
    assert f'href="chat/{row.pk}/"' in page
    assert "91234" not in page  # numbers stay off the page: WhatsApp shows them

    response = client.get(feed_url(token, f"chat/{row.pk}/"))

    # Only {name} is filled in: other braces are the coordinator's text, not code.
    text = "नमस्ते संपर्क 01 जी! रविवार को बूथ पर मिलिए। {0} {name.upper} 100%"
    assert response.status_code == 302
    assert response.url == f"https://wa.me/919123400001?text={quote(text, safe='')}"
    assert response["Referrer-Policy"] == "no-referrer"
    assert services.wa_me_link("+91 91234-00001", "a b&c") == "https://wa.me/919123400001?text=a%20b%26c"


def test_it_marks_from_the_feed_with_and_without_the_script(harnatand, client):
    assignment = harnatand.create()
    sent, replied = row_of(assignment, "संपर्क 01"), row_of(assignment, "संपर्क 02")
    _link, token = services.link_issue(person=harnatand.first)

    plain = client.post(feed_url(token, f"mark/{sent.pk}/"), {"s": "sent"})
    scripted = client.post(feed_url(token, f"mark/{replied.pk}/"), {"s": "replied"}, HTTP_X_FEED="1")
    refused = client.post(feed_url(token, f"mark/{sent.pk}/"), {"s": "maybe"}, HTTP_X_FEED="1")

    assert plain.status_code == 303 and plain["Location"] == f"../../#a{assignment.pk}"
    assert scripted.status_code == 200
    assert f'<li id="c{replied.pk}" data-swap>' in html(scripted)
    assert hi("Replied") in html(scripted)
    assert refused.status_code == 409
    sent.refresh_from_db()
    replied.refresh_from_db()
    assert (sent.status, replied.status) == (Status.SENT, Status.REPLIED)


# --- the coordinator's pages ----------------------------------------------------------------------------


def test_a_coordinator_creates_an_assignment_and_follows_its_progress(harnatand):
    coordinator = harnatand.client("panchayat")
    data = {"title": "रविवार की बैठक", "template": TEMPLATE, "unit_key": "panchayat:5001", "batch_size": "4"}

    response = coordinator.post(reverse("feed:assignment-new"), data)

    assignment = Assignment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("feed:assignment", args=[assignment.pk])
    services.assignment_mark(
        volunteer=harnatand.first, contact=row_of(assignment, "संपर्क 01"), status=Status.REPLIED
    )
    services.link_issue(person=harnatand.president)
    page = html(coordinator.get(response.url))
    first = re.search(rf'<tr data-volunteer="{harnatand.first.pk}">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-status="pending">5<', first) and re.search(r'data-status="replied">1<', first)
    assert reverse("feed:link", args=[harnatand.first.pk]) in first  # no feed link yet: issue one
    total = re.search(r'<tr data-volunteer="total">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'data-status="pending">9<', total)
    assert f'data-assignment="{assignment.pk}"' in html(coordinator.get(reverse("feed:assignments")))

    bad = coordinator.post(reverse("feed:assignment-new"), {**data, "unit_key": "district:231"})
    assert bad.status_code == 200 and 'data-error="unit_key"' in html(bad)


def test_assignments_are_seen_inside_the_broadcast_scope_only(harnatand):
    panchayat = harnatand.create()
    booth_one = harnatand.create(unit_key="booth:1-2", title="बूथ")
    listed = {
        name: set(selectors.assignments_visible(harnatand.users[name]).values_list("pk", flat=True))
        for name in ("panchayat", "block", "elsewhere", "first")
    }
    assert listed == {
        "panchayat": {panchayat.pk, booth_one.pk},
        "block": {panchayat.pk, booth_one.pk},
        "elsewhere": set(),
        "first": set(),
    }
    assert (
        harnatand.client("elsewhere").get(reverse("feed:assignment", args=[panchayat.pk])).status_code == 404
    )
    assert harnatand.client("first").get(reverse("feed:assignment-new")).status_code == 403
    assert harnatand.client("block").get(reverse("feed:assignment", args=[panchayat.pk])).status_code == 200
