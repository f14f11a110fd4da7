"""The persona world: the small Bihar with a volunteer at every booth, supporters, coordinators at
each level and a logged-in client per persona (see tests/test_people_personas.py for who sees what);
shared by the people, coverage-page and web tests."""

from __future__ import annotations

import csv
import datetime
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from sampark.people import services
from sampark.people.models import Person, Role
from sampark.territory.models import Booth
from tests.helpers.territory import Tree, build_bihar

PASSWORD = "a long enough passphrase"
DAY = datetime.date(2026, 1, 5)

X_BOOTHS = ("1-1", "1-2", "1-2A", "1-3", "1-4", "2-1", "2-1A", "2-2")
BAGAHA_BOOTHS = ("1-1", "1-2", "1-2A", "1-3")
Y_BOOTHS = ("181-1", "181-2", "181-2A")
WITHDRAWN_VOLUNTEERS = ("2-1A", "181-2A")  # consent withdrawn: their booths fall below target

PERSONAS = ("state", "district_x", "block_x", "block_y", "volunteer", "superuser")


@dataclass
class World:
    tree: Tree
    people: dict[str, Person] = field(default_factory=dict)  # by a short label
    clients: dict[str, Client] = field(default_factory=dict)  # by persona

    def ids(self, *labels: str) -> set[int]:
        return {self.people[label].pk for label in labels}


def phone_for(n: int) -> str:
    return f"98765{n:05d}"


def build_world(client_factory: Any = Client) -> World:
    """The territory, people at every booth, and a logged-in client per persona (staff with every
    people permission, so the admin's scoping, not Django's permissions, is what the tests see)."""
    tree = build_bihar()
    world = World(tree=tree)
    booths = {b.code: b for b in Booth.objects.all()}
    counter = iter(range(1, 1000))

    def register(label: str, name: str, booth: str | None, **kwargs: Any) -> Person:
        person = services.person_register(
            name=name,
            phone=phone_for(next(counter)),
            age=30,
            home_booth=booths[booth] if booth else None,
            today=DAY,
            **kwargs,
        )
        world.people[label] = person
        return person

    for code in (*X_BOOTHS, *Y_BOOTHS):
        person = register(f"v{code}", f"Volunteer {code}", code)
        services.post_assign(person=person, role=Role.BOOTH_VOLUNTEER, unit=booths[code], started_on=DAY)
    for code in WITHDRAWN_VOLUNTEERS:
        services.consent_withdraw_all(person=world.people[f"v{code}"])
    register("sita", "सीता देवी", "1-2")  # a supporter at the volunteer's booth, no post
    supporter = register("ramesh", "रमेश कुमार", "2-2")
    services.consent_withdraw_all(person=supporter)
    register("nowhere", "Placed Nowhere", None)

    state_head = register("state_head", "State Head", None)
    services.post_assign(person=state_head, role=Role.STATE_COORDINATOR, unit=tree.state, started_on=DAY)
    district_x = register("district_x", "District X Coordinator", "1-4")
    services.post_assign(
        person=district_x, role=Role.DISTRICT_COORDINATOR, unit=tree.champaran, started_on=DAY
    )
    block_x = register("block_x", "Block X Coordinator", "1-3")
    services.post_assign(person=block_x, role=Role.BLOCK_COORDINATOR, unit=tree.bagaha, started_on=DAY)
    block_y = register("block_y", "Block Y Coordinator", "181-1")
    services.post_assign(person=block_y, role=Role.BLOCK_COORDINATOR, unit=tree.patna_sadar, started_on=DAY)

    users = get_user_model().objects
    permissions = list(Permission.objects.filter(content_type__app_label="people"))
    logins = {
        "state": "state_head",
        "district_x": "district_x",
        "block_x": "block_x",
        "block_y": "block_y",
        "volunteer": "v1-2",
    }
    for persona, label in logins.items():
        user = users.create_user(persona, password=PASSWORD, is_staff=True)
        user.user_permissions.set(permissions)
        Person.objects.filter(pk=world.people[label].pk).update(user=user)
        client = client_factory()
        client.force_login(user)
        world.clients[persona] = client
    admin = users.create_superuser("root", password=PASSWORD)
    client = client_factory()
    client.force_login(admin)
    world.clients["superuser"] = client
    world.clients["anonymous"] = client_factory()
    return world


def listed_people(response) -> set[int]:
    assert response.status_code == 200, response.status_code
    return {int(pk) for pk in re.findall(r'<tr data-person="(\d+)"', response.content.decode())}


def export_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))
