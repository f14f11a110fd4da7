"""Bad input to the three webhooks never gives a 5xx: specific cases that did, and a fuzz test.

What each webhook answers to a correctly signed body it cannot use:
- not JSON, or nested deeper than the parser goes → 400 with the reason (every provider);
- SMS (our own documented contract): not the documented object → 400; a malformed entry is skipped;
- WhatsApp and Telegram: an object of an unknown or malformed shape → 200 and nothing acted on, since
  both providers redeliver anything else (Meta for days, Telegram holding later updates back).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sampark.messaging import statuses
from sampark.messaging.models import InboundMessage, QueuedStatus
from sampark.people import services as people
from sampark.people.models import Channel
from tests.helpers import webhooks
from tests.helpers.territory import build_bihar

pytestmark = pytest.mark.django_db

DATA = Path(django_settings.SAMPARK_DATA_DIR)
NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def configured(settings):
    webhooks.configure(settings)
    return settings


def telegram_update(date: Any, text: str = "/stop") -> dict[str, Any]:
    return {
        "update_id": 7001,
        "message": {
            "message_id": 42,
            "from": {"id": 555001, "is_bot": False, "first_name": "Sita"},
            "chat": {"id": 555001, "type": "private"},
            "date": date,
            "text": text,
        },
    }


# --- the cases that gave a 500 ------------------------------------------------------------------------


def test_it_acknowledges_and_ignores_a_telegram_message_dated_ten_to_the_twentieth(client, configured):
    response = webhooks.post_telegram(client, telegram_update(10**20))

    assert (response.status_code, response.json()) == (200, {})
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("date", [-(10**20), 1e300, float("nan"), True, "1700000000"])
def test_it_ignores_other_telegram_dates_no_calendar_holds(client, configured, date):
    response = webhooks.post_telegram(client, json.dumps(telegram_update(date)).encode())

    assert response.status_code == 200
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("post", [webhooks.post_whatsapp, webhooks.post_telegram, webhooks.post_sms])
def test_it_refuses_a_signed_body_of_deeply_nested_arrays_with_400(client, configured, post):
    response = post(client, NESTED)

    assert (response.status_code, response.json()) == (400, {"error": "body is nested too deeply"})


def test_it_stores_an_sms_with_a_lone_surrogate_and_nul_instead_of_failing(client, configured):
    body = b'{"inbound": [{"from": "919876500001", "text": "hi \\ud800 there\\u0000", "at": 1700000000}]}'

    response = webhooks.post_sms(client, body)

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "hi \ufffd there"


@pytest.mark.parametrize("escape", ["\\udc00", "\\uDFFF", "\\udbff"])
def test_it_queues_an_sms_report_with_a_lone_low_or_high_surrogate_instead_of_failing(
    client, configured, escape
):
    # Low surrogates (DC00-DFFF) once slipped past the check for unstorable escapes: SQLite refused
    # the string and the webhook answered 500 (found by the fuzz test below).
    body = (
        '{"reports": [{"id": "outbox-1' + escape + '", "status": "delivered", "at": 1700000000}]}'
    ).encode()

    response = webhooks.post_sms(client, body)

    assert response.status_code == 200
    assert QueuedStatus.objects.get().provider_message_id == "outbox-1\ufffd"


@pytest.mark.parametrize("code", [[[131049]], {"n": 1}, 1.5e300])
def test_it_reads_only_a_number_or_text_as_an_error_code(client, configured, code):
    # Never str() of a structure: garbage in the row, and for a deep one a RecursionError (a 500).
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "statuses": [
                                {
                                    "id": "wamid.x",
                                    "status": "failed",
                                    "timestamp": "1700000000",
                                    "errors": [{"code": code, "title": "Spam"}],
                                }
                            ]
                        },
                    }
                ],
            }
        ],
    }

    response = webhooks.post_whatsapp(client, body)

    assert response.status_code == 200
    assert list(QueuedStatus.objects.values_list("error_code", "error_reason")) == [("", "Spam")]


def test_it_answers_400_with_the_reason_to_a_signed_body_that_is_not_json(client, configured):
    for post in (webhooks.post_whatsapp, webhooks.post_telegram, webhooks.post_sms):
        response = post(client, b"\xff{not json")
        assert (response.status_code, response.json()) == (400, {"error": "body is not JSON"})


def test_it_never_writes_a_phone_number_to_the_log(client, configured, caplog):
    caplog.set_level("DEBUG")
    tree = build_bihar()
    people.person_register(
        name="Sita", phone="9876500001", age=30, home_booth=tree.booth, channels=[Channel.SMS]
    )

    webhooks.post_sms(
        client,
        {"inbound": [{"from": "919876500001", "text": "STOP", "at": 1700000000}, {"from": "919876500002"}]},
    )
    webhooks.post_telegram(client, telegram_update("soon"))
    webhooks.post_whatsapp(client, b"{not json")

    assert caplog.records  # the malformed entries were logged …
    assert "9876500001" not in caplog.text and "9876500002" not in caplog.text  # … without the numbers
    assert "555001" not in caplog.text  # nor a Telegram chat id


# --- fuzz -------------------------------------------------------------------------------------------

# Leaves that broke a webhook once, or could: numbers no datetime holds, NaN, huge ints, text no
# database stores (lone surrogates, NUL), bidirectional controls, empty strings, bools posing as ints.
ODD_LEAVES = st.sampled_from(
    [10**20, -(10**20), 2**63, 1e308, float("nan"), float("inf"), True, False, "", "\ud800", "a\x00b",
     "\u202e", "STOP", "+919876500001", "919876500001", "read", "failed", "private", "messages"]
)  # fmt: skip
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | ODD_LEAVES
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10) | ODD_LEAVES.filter(
        lambda v: isinstance(v, str)), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


def _samples(folder: Path) -> list[Any]:
    found: list[Any] = []
    for path in sorted(folder.rglob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        # pywa's files map case names to bodies; the Telegram files are one body each.
        found.extend(data.values() if folder.name == "pywa" else [data])
    return found


WHATSAPP_SAMPLES = _samples(DATA / "whatsapp_webhooks" / "pywa") if DATA.exists() else []
TELEGRAM_SAMPLES = _samples(DATA / "telegram_updates") if DATA.exists() else []
SMS_SAMPLES = [
    {
        "reports": [{"id": "gw-1", "status": "DELIVRD", "at": 1700000000}, {"id": 7, "status": "UNDELIV"}],
        "inbound": [{"from": "919876500001", "text": "STOP", "at": 1700000000, "id": "in-1"}],
    },
    {"inbound": [{"from": "+919876500001", "text": "रोकें", "at": 1700000000.5}]},
]


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in a document, containers included (replacing one replaces its subtree)."""
    paths = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _leaf_paths(item, (*path, index))
    return paths


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def mutated(samples: list[Any]) -> st.SearchStrategy[Any]:
    """A real sample with one position (and its subtree) replaced by a generated value, a few times."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        doc = draw(st.sampled_from(samples))
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            paths = _leaf_paths(doc)
            doc = _replace(doc, draw(st.sampled_from(paths)), draw(VALUES))
        return doc

    return build()


# The documented shapes with every field drawn from LEAVES: where a bad value reaches the parsers and
# the database, not just the first isinstance check.
ODD_NUMBERS = st.sampled_from([10**20, -(10**20), 2**63, 1e308, float("nan"), float("inf"), True])
ODD_TEXT = st.sampled_from(["\ud800", "x\udfffy", "a\x00b", "\u202eSTOP", ""])
VALID = st.sampled_from(["1700000000", 1700000000, "wamid.fuzz", "text", "sent", "read", "DELIVRD"])
FIELD = st.one_of(ODD_NUMBERS, ODD_TEXT, LEAVES, VALID)
SHAPED = {
    "whatsapp": st.fixed_dictionaries(
        {
            "object": st.just("whatsapp_business_account"),
            "entry": st.lists(
                st.fixed_dictionaries(
                    {
                        "id": FIELD,
                        "changes": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "field": st.just("messages") | FIELD,
                                    "value": st.fixed_dictionaries(
                                        {
                                            "statuses": st.lists(
                                                st.fixed_dictionaries(
                                                    {"id": FIELD, "status": FIELD, "timestamp": FIELD,
                                                     "errors": st.lists(st.fixed_dictionaries(
                                                         {"code": FIELD, "title": FIELD}), max_size=1)}
                                                ), max_size=2),
                                            "contacts": st.lists(st.fixed_dictionaries(
                                                {"wa_id": FIELD, "user_id": FIELD,
                                                 "profile": st.fixed_dictionaries({"name": FIELD})}), max_size=1),
                                            "messages": st.lists(st.fixed_dictionaries(
                                                {"from": FIELD, "id": FIELD, "timestamp": FIELD,
                                                 "type": st.just("text") | FIELD,
                                                 "text": st.fixed_dictionaries({"body": FIELD})}), max_size=2),
                                        }
                                    ),
                                }
                            ), max_size=2),
                    }
                ), max_size=2),
        }
    ),
    "telegram": st.fixed_dictionaries(
        {
            "update_id": FIELD,
            "message": st.fixed_dictionaries(
                {
                    "message_id": st.integers() | FIELD,
                    "chat": st.fixed_dictionaries({"id": st.integers(), "type": st.just("private")}),
                    "from": st.fixed_dictionaries({"first_name": FIELD, "last_name": FIELD}),
                    "date": FIELD,
                    "text": FIELD | st.just("/stop"),
                }
            ),
        }
    ),
    "sms": st.fixed_dictionaries(
        {
            "reports": st.lists(st.fixed_dictionaries(
                {"id": FIELD, "status": FIELD | st.just("DELIVRD"), "at": FIELD, "error": FIELD}), max_size=2),
            "inbound": st.lists(st.fixed_dictionaries(
                {"from": st.just("919876500001"), "text": FIELD, "at": FIELD | st.none(), "id": FIELD | st.none()}),
                max_size=2),
        }
    ),
}  # fmt: skip


def bodies(samples: list[Any], shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    # Half the bodies in the documented shape: that is where a bad value gets furthest.
    documents = st.one_of(shaped, shaped, VALUES, mutated(samples)) if samples else st.one_of(shaped, VALUES)
    # ensure_ascii: lone surrogates can only travel as \u escapes (and that is how they come).
    return documents.map(lambda doc: json.dumps(doc, ensure_ascii=True).encode())


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _no_5xx(response: Any) -> None:
    assert response.status_code < 500, response.content[:200]
    # What a webhook queued, the worker can apply.
    statuses.drain()


# Bodies that once gave a 500, always tried first (a random run may not draw them).
LOW_SURROGATE_STATUS = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
    {"field": "messages", "value": {"statuses": [{"id": "wamid.\udc00", "status": "read",
                                                   "timestamp": "1700000000"}]}}]}]}).encode()  # fmt: skip


@pytest.mark.realdata
@FUZZ
@given(body=bodies(WHATSAPP_SAMPLES, SHAPED["whatsapp"]))
@example(body=NESTED)
@example(body=LOW_SURROGATE_STATUS)
def test_it_never_answers_5xx_to_a_signed_whatsapp_body(client, configured, data_dir, body):
    _no_5xx(webhooks.post_whatsapp(client, body))


@pytest.mark.realdata
@FUZZ
@given(body=bodies(TELEGRAM_SAMPLES, SHAPED["telegram"]))
@example(body=json.dumps(telegram_update(10**20, "\udfff")).encode())
def test_it_never_answers_5xx_to_a_telegram_body_with_the_secret(client, configured, data_dir, body):
    _no_5xx(webhooks.post_telegram(client, body))


@FUZZ
@given(body=bodies(SMS_SAMPLES, SHAPED["sms"]))
@example(body=b'{"reports": [{"id": "x\\udfff", "status": "DELIVRD", "at": 1700000000}]}')
def test_it_never_answers_5xx_to_a_signed_sms_body(client, configured, body):
    _no_5xx(webhooks.post_sms(client, body))
