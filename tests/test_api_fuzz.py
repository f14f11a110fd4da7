"""The API answers any input, valid or not, with a status its OpenAPI schema declares and a body that
matches it: never a 5xx. Schemathesis generates the requests from the in-process schema (the same
pydantic models that validate) and sends them to the real Django WSGI handler, logged in as the
district coordinator of the persona world; examples are derandomised under CI by the hypothesis profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from django.contrib.sessions.models import Session
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sampark.people.api import api
from tests.helpers.personas import World, build_world

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = WSGIHandler()  # every request, the checks' own probes too, goes to Django in-process
schema.config.update(base_url="http://localhost")
# The coordinator's session key: fixed, because schemathesis asks for the credentials while it collects
# the test (before any fixture runs); the fixture below stores a logged-in session under it.
SESSION_KEY = "apifuzzcoordinatorsession0000000"


@schema.auth()
class CoordinatorSession:
    """The session cookie is the API's auth: schemathesis sends it as real credentials (and also probes
    without it, expecting a 401), instead of generating random ones."""

    def get(self, case: Any, context: Any) -> str:
        return SESSION_KEY

    def set(self, case: Any, data: str, context: Any) -> None:
        case.cookies = {**(case.cookies or {}), "sessionid": data}


@pytest.fixture
def world(settings: Any) -> World:
    settings.SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = 1
    settings.SAMPARK_TARGET_PANCHAYATS_PER_BLOCK = 1
    return build_world()


@pytest.fixture
def coordinator_session(world: World) -> None:
    """The district coordinator of X logged in, their session moved under :data:`SESSION_KEY`."""
    key = world.clients["district_x"].cookies["sessionid"].value
    assert Session.objects.filter(pk=key).update(session_key=SESSION_KEY) == 1


@pytest.fixture(autouse=True)
def _real_wsgi_handler() -> Iterator[None]:
    """Requests go through Django's own WSGI handler, inside the test's transaction: like Django's test
    client, keep the handler from closing the connection (and so the transaction) before and after each
    request (on PostgreSQL, with CONN_MAX_AGE and health checks, the one at request start closed it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.usefixtures("coordinator_session")
def test_the_api_never_answers_malformed_input_with_a_server_error(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, (case.path, case.query, case.path_parameters, response.text[:500])
    case.validate_response(response)


# Schemathesis draws numbers near the bounds a schema states, and small ones: the 500s found by hand were
# beyond any bound (an offset of 2⁶³, an id or LGD code of 20 digits). So every parameter of every
# operation is also drawn from the far ends, and every string from text with unit keys, huge numbers,
# NUL and bidirectional controls in it.
OPENAPI = api.get_openapi_schema()
huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-(2**63) + 2),
)
unit_like = st.builds(
    lambda kind, ident: f"{kind}:{ident}",
    st.sampled_from(["state", "district", "ac", "block", "panchayat", "booth", "DISTRICT"]),
    st.one_of(
        huge_ints.map(str),
        huge_ints.map(lambda n: f"#{n}"),
        st.text(alphabet="0123456789-#१२३\x00\u202e", max_size=30),
    ),
)
any_text = st.one_of(st.text(max_size=300), unit_like, huge_ints.map(str), st.sampled_from(["ac", "", "0"]))


def _operations() -> list[tuple[str, str, list[dict[str, Any]]]]:
    found = []
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            found.append((method.upper(), path, operation.get("parameters", [])))
    return found


def _value(parameter: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = parameter["schema"].get("type")
    return st.one_of(huge_ints, any_text) if kind == "integer" else any_text


def _good(parameter: dict[str, Any], world: World) -> Any:
    """A value the operation accepts: the schema's default, else a known good one (every required
    parameter without a default must be listed here, so a new one is fuzzed too)."""
    if "default" in parameter["schema"]:
        return parameter["schema"]["default"]
    known = {"person_id": world.people["sita"].pk, "unit": "state"}
    return known[parameter["name"]]


@pytest.mark.parametrize(
    ("method", "path", "parameters"), _operations(), ids=[f"{m} {p}" for m, p, _ in _operations()]
)
def test_no_parameter_value_at_all_gives_a_server_error(
    world: World, method: str, path: str, parameters: list[dict[str, Any]]
) -> None:
    client = world.clients["district_x"]
    declared = {int(code) for code in OPENAPI["paths"][path][method.lower()]["responses"]}
    good = {p["name"]: _good(p, world) for p in parameters}
    by_name = {p["name"]: p for p in parameters}
    # One or two parameters wild at a time, the others good: a wild value must reach the code behind the
    # validation of the others (an offset of 2⁶³ was a 500 only with a valid limit, unit, role …).
    wild = st.sets(st.sampled_from(sorted(by_name)), min_size=1, max_size=2).flatmap(
        lambda names: st.fixed_dictionaries({name: _value(by_name[name]) for name in names})
    )

    @given(wild)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    def check(values: dict[str, Any]) -> None:
        url = path
        query = {}
        for name, parameter in by_name.items():
            value = str(values.get(name, good[name]))
            if parameter["in"] == "path":
                url = url.replace("{" + name + "}", quote(value, safe=""))
            else:
                query[name] = value
        response = client.generic(method, url + "?" + urlencode(query))
        assert response.status_code < 500, (url, query)
        assert response.status_code in declared | {404}, (url, query, response.status_code)

    # Always tried, whatever the generator draws: the first number beyond 64 bits in each integer.
    for name, parameter in by_name.items():
        if parameter["schema"].get("type") == "integer":
            check = example({name: 2**63})(check)
    check()
