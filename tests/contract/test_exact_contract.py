"""Where the OpenAPI document and the checks once disagreed, each pinned against `ozgbridge serve`.

The document is the served one; a pattern in it is ECMA-262, read here with Python's `re` after
checking it is anchored (``^…$``) — then ``fullmatch`` on the inside means the same in both.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from ozgbridge.api.schemas_status import StatusIn
from tests.integration.api.support import ERKELENZ_ARS, GEWERBEANMELDUNG, auth

PROBLEM = "application/problem+json"
REPORT = "/v1/reports/ozg"


@pytest.fixture(scope="module")
def client(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def document(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/v1/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def matches(pattern: str, value: str) -> bool:
    assert pattern.startswith("^"), pattern
    assert pattern.endswith("$"), pattern
    return re.fullmatch(pattern[1:-1], value) is not None


def parameter(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path][method]
    [found] = [p for p in operation["parameters"] if p["name"] == name]
    return dict(found)


def validator(document: dict[str, Any], component: str) -> Draft202012Validator:
    """A JSON Schema validator for one component, its $refs resolved in the document."""
    root = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return Draft202012Validator(root)


def assert_refused(answer: httpx.Response, status: int, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    if field is not None:
        assert answer.json()["errors"][0]["field"] == field


# --- a: a report period matches the documented pattern exactly when the code takes it ----------

TAKEN = ["2026-10", "2026-10-31", "0001-02", "2026-02-28", "9999-11"]
REFUSED = [
    "0000-00", "0000-01", "2026-00", "2026-13", "2026-10-00", "2026-10-32", "2026-1",
    " 2026-10", "2026-10 ", "2026-10-31\n", "20261031", "2026-W44-6", "2026-10-31T00:00:00",
    "２０２６-10",  # fullwidth digits: Python's \d would take them
]  # fmt: skip


@pytest.mark.parametrize("bound", ["from", "to"])
@pytest.mark.parametrize("value", TAKEN + REFUSED)
def test_report_bounds_match_the_pattern_exactly_when_taken(
    client: httpx.Client, document: dict[str, Any], bound: str, value: str
) -> None:
    pattern = parameter(document, REPORT, "get", bound)["schema"]["pattern"]

    answer = client.get(REPORT, params={bound: value}, headers=auth("coordinator"))

    assert matches(pattern, value) is (value in TAKEN)
    if value in TAKEN:
        assert answer.status_code == 200, answer.text
    else:
        assert_refused(answer, 422, bound)


def test_a_day_that_matches_but_does_not_exist_is_the_documented_422(
    client: httpx.Client, document: dict[str, Any]
) -> None:
    pattern = parameter(document, REPORT, "get", "from")["schema"]["pattern"]

    answer = client.get(REPORT, params={"from": "2026-02-30"}, headers=auth("coordinator"))

    assert matches(pattern, "2026-02-30")
    assert "422" in document["paths"][REPORT]["get"]["responses"]
    assert_refused(answer, 422, "from")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-01", "to": "9999-12-31"},  # the day after is past Python's calendar
        {"from": "0001-01"},  # the month compared with is before it
    ],
)
def test_a_period_at_the_calendar_edge_is_422_not_500(
    client: httpx.Client, params: dict[str, str]
) -> None:
    answer = client.get(REPORT, params=params, headers=auth("coordinator"))

    assert_refused(answer, 422, "from")


# --- c: an empty bound is refused, as the pattern says ------------------------------------------


@pytest.mark.parametrize("bound", ["to", "from"])
def test_an_empty_report_bound_is_refused(
    client: httpx.Client, document: dict[str, Any], bound: str
) -> None:
    pattern = parameter(document, REPORT, "get", bound)["schema"]["pattern"]

    answer = client.get(f"{REPORT}?{bound}=", headers=auth("coordinator"))

    assert not matches(pattern, "")
    assert_refused(answer, 422, bound)


# --- b: "exactly one of" is in the schema, and the code agrees with it --------------------------

PDF = base64.b64encode(b"%PDF-1.4 contract\n%%EOF\n").decode("ascii")


def submission(region: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": {"leikaKey": GEWERBEANMELDUNG},
        "region": region,
        "data": {"mimeType": "application/json", **data},
    }


REGIONS = [
    ({"ars": ERKELENZ_ARS}, True),
    ({"ags": "05370004"}, True),
    ({"ars": ERKELENZ_ARS, "ags": None}, True),
    ({"ars": None, "ags": "05370004"}, True),
    ({"ars": ERKELENZ_ARS, "ags": "05370004"}, False),
    ({}, False),
    ({"ars": None, "ags": None}, False),
]
DATA = [
    ({"content": {"betrieb": "Musterbäckerei"}}, True),
    ({"contentBase64": PDF}, True),
    ({"content": None, "contentBase64": PDF}, True),
    ({"content": {"a": 1}, "contentBase64": None}, True),
    ({"content": {"a": 1}, "contentBase64": PDF}, False),
    ({}, False),
    ({"content": None, "contentBase64": None}, False),
]


@pytest.mark.parametrize(("region", "valid"), REGIONS)
def test_exactly_one_of_ars_and_ags(
    client: httpx.Client, document: dict[str, Any], region: dict[str, Any], valid: bool
) -> None:
    body = submission(region, {"content": {"betrieb": "Musterbäckerei"}})

    answer = client.post("/v1/applications", json=body, headers=auth("portal-a"))

    assert validator(document, "ApplicationIn").is_valid(body) is valid
    if valid:
        assert answer.status_code == 202, answer.text
    else:
        assert_refused(answer, 422, "region")


@pytest.mark.parametrize(("data", "valid"), DATA)
def test_exactly_one_of_content_and_content_base64(
    client: httpx.Client, document: dict[str, Any], data: dict[str, Any], valid: bool
) -> None:
    body = submission({"ars": ERKELENZ_ARS}, data)

    answer = client.post("/v1/applications", json=body, headers=auth("portal-a"))

    assert validator(document, "ApplicationIn").is_valid(body) is valid
    if valid:
        assert answer.status_code == 202, answer.text
    else:
        assert_refused(answer, 422, "data")


@pytest.mark.parametrize(("region", "valid"), REGIONS)
def test_forward_to_names_exactly_one_of_ars_and_ags(
    document: dict[str, Any], region: dict[str, Any], valid: bool
) -> None:
    # Reaching the handler needs a delivered application; the handler validates with StatusIn.
    body = {"status": "not_responsible", "forwardTo": region}

    in_document = validator(document, "StatusIn").is_valid(body)
    try:
        StatusIn.model_validate_json(httpx.Request("POST", "/", json=body).content)
        in_code = True
    except ValueError:
        in_code = False

    assert (in_document, in_code) == (valid, valid)


# --- d: intake callbacks without their headers are the documented 401 ---------------------------

# (path sent, path in the document)
CALLBACK_PATHS = [
    ("/v1/intakes/fitconnect/callbacks", "/v1/intakes/{kind}/callbacks"),
    ("/v1/fitconnect/callbacks", "/v1/fitconnect/callbacks"),
]
FITCONNECT_HEADERS = {"callback-authentication": "00" * 64, "callback-timestamp": "1700000000"}


@pytest.mark.parametrize(("path", "documented"), CALLBACK_PATHS)
def test_a_callback_without_its_headers_is_401(
    client: httpx.Client, document: dict[str, Any], path: str, documented: str
) -> None:
    responses = document["paths"][documented]["post"]["responses"]

    bare = client.post(path, json={})
    half = client.post(path, json={}, headers={"callback-authentication": "00" * 64})

    assert {"401", "404"} <= set(responses)
    assert list(responses["401"]["content"]) == [PROBLEM]
    assert_refused(bare, 401)
    assert_refused(half, 401)
    assert "callback-timestamp" in half.json()["detail"]


@pytest.mark.parametrize("path", [sent for sent, _ in CALLBACK_PATHS])
def test_a_callback_for_an_intake_not_configured_here_is_404(
    client: httpx.Client, path: str
) -> None:
    # The example deployment installs the FIT-Connect intake but configures none.
    answer = client.post(path, json={}, headers=FITCONNECT_HEADERS)

    assert_refused(answer, 404)


@pytest.mark.parametrize("headers", [{}, FITCONNECT_HEADERS])
def test_a_callback_for_an_unknown_kind_is_404(
    client: httpx.Client, document: dict[str, Any], headers: dict[str, str]
) -> None:
    kinds = parameter(document, "/v1/intakes/{kind}/callbacks", "post", "kind")["schema"]["enum"]

    answer = client.post("/v1/intakes/nobody/callbacks", json={}, headers=headers)

    assert "nobody" not in kinds
    assert_refused(answer, 404)


# --- what schemathesis found besides: the code now takes only what the document admits ----------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/deliveries", {"until": ""}, "until"),
        ("/v1/deliveries", {"since": "1700000000"}, "since"),
        ("/v1/deliveries", {"since": "2026-10-01T10:00"}, "since"),
        ("/v1/deliveries", {"since": "0001-01-01T00:00:00+01:00"}, "since"),  # before UTC's first
        ("/v1/deliveries", {"limit": "5.0"}, "limit"),
        ("/v1/deliveries", {"limit": "1_0"}, "limit"),
        ("/v1/deliveries", {"state": ""}, "state"),
        ("/v1/routes", {"tenant": ""}, "tenant"),
        ("/v1/applications", {"limit": "²"}, "limit"),  # str.isdigit() said yes, int() a 500
        ("/v1/events", {"before": "²"}, "before"),
    ],
)
def test_a_query_value_the_document_forbids_is_422(
    client: httpx.Client, path: str, params: dict[str, str], field: str
) -> None:
    answer = client.get(path, params=params, headers=auth("operator"))

    assert_refused(answer, 422, field)


@pytest.mark.parametrize(
    "body",
    [
        {"dryRun": 0},  # not a boolean
        {"dryRun": "true"},
        {"filter": {"since": 1700000000}},  # not a string
        {"filter": {"since": "9999-12-31T23:59:59-01:00"}},  # after UTC's last instant
    ],
)
def test_a_body_value_of_another_type_is_422(client: httpx.Client, body: dict[str, Any]) -> None:
    answer = client.post("/v1/deliveries/replay", json=body, headers=auth("operator"))

    assert_refused(answer, 422)


def test_a_mime_type_with_a_trailing_line_break_is_422(client: httpx.Client) -> None:
    body = submission({"ars": ERKELENZ_ARS}, {"contentBase64": PDF})
    body["data"]["mimeType"] = "application/pdf\n"

    answer = client.post("/v1/applications", json=body, headers=auth("portal-a"))

    assert_refused(answer, 422, "data.mimeType")


def test_any_request_id_is_taken_and_only_a_harmless_one_echoed(
    client: httpx.Client, document: dict[str, Any]
) -> None:
    schema = parameter(document, "/v1/deliveries", "get", "X-Request-Id")["schema"]

    kept = client.get("/v1/deliveries", headers={**auth("operator"), "X-Request-Id": "abc-1"})
    replaced = client.get("/v1/deliveries", headers={**auth("operator"), "X-Request-Id": "a b"})

    assert schema == {"type": "string"}
    assert (kept.status_code, kept.headers["X-Request-Id"]) == (200, "abc-1")
    assert replaced.status_code == 200
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", replaced.headers["X-Request-Id"])
    assert replaced.headers["X-Request-Id"] != "a b"
