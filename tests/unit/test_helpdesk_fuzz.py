"""Schema-driven fuzzing (schemathesis + hypothesis) of a live help desk against its own /openapi.json.

Valid and invalid requests for every operation, sent with a real user's token: zero 5xx answers and zero
answers that break the document (undocumented status, wrong content type, body not matching its schema).
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from helpdesk_server import database, server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.generation import GenerationMode

MAX_EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "150"))  # bounded: a few seconds; raise it to explore
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def live():
    with database("hd-fuzz") as url, server(url, cost_model="native") as base:
        r = requests.post(base + "/auth/register", json={"username": "fuzz_user", "password": "fuzz_user"})
        token = r.json()["token"]
        requests.post(base + "/conversations", json={"title": "seed"}, headers={"Authorization": f"Bearer {token}"})
        yield base, token


def test_openapi_document_lists_all_routes(live):
    base, _ = live
    doc = requests.get(base + "/openapi.json").json()
    operations = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert len(operations) == 22  # the 21 routes of the API plus /about
    assert ("GET", "/api/expert-queue/updates") in operations and ("PUT", "/expert/profile") in operations


def test_fuzzing_finds_no_server_errors_and_no_schema_violations(live):
    base, token = live
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    strategy = st.one_of(
        [op.as_strategy(generation_mode=mode) for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    )
    seen: dict[int, int] = {}

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    fuzz()
    assert sum(seen.values()) >= MAX_EXAMPLES // 2
    assert not [code for code in seen if code >= 500]
