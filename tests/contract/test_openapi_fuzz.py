"""The served OpenAPI document is exact: schemathesis against `ozgbridge serve`, once per role.

One real `ozgbridge serve` (API and worker, SQLite, the example tenants with a key of every role)
on 127.0.0.1; schemathesis loads `/v1/openapi.json` from it and sends, for every operation in it,
the document's examples, its coverage cases (boundary values, each constraint broken once, other
methods) and `MAX_EXAMPLES` fuzzed cases, positive and negative — as each role's key in turn.
Exactly these checks must hold for every answer, with schemathesis' own defaults (nothing
loosened, no operation left out):

- not_a_server_error: never a 5xx;
- status_code_conformance: every status is documented for the operation;
- content_type_conformance, response_schema_conformance: the answer is what the document says;
- negative_data_rejection: a request the document forbids is refused (4xx), never carried out.

Deterministic (fixed seed, Hypothesis derandomized, no example database), so CI repeats the
same cases. A failure names the operation and the broken part and gives a curl command to
repeat the request (`./dev test tests/contract` runs only this).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.api.support import token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Fuzzed cases per operation (positive and negative together), beside about 800 coverage cases
# per role: all five roles take about two minutes on the loaded 2-core development machine
# (50 took 2:20, 25 took 1:50 with the machine busier).
MAX_EXAMPLES = 40
SEED = 20240913
# One key of each role (tests/integration/api/support.py); the tenant key is Erkelenz's.
ROLES = {
    "portal": "portal-a",
    "tenant": "erkelenz-staff",
    "coordinator": "coordinator",
    "operator": "operator",
    "metrics": "metrics",
}
CASES: dict[str, int] = {}
_KEY_NUMBERS = itertools.count()
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def _config(key_id: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Hypothesis' own health checks time the data generation, which a loaded machine
            # slows down at random; they judge the generator, not the service.
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # The stateful phase follows OpenAPI links, which the document has none of.
            "phases": {"stateful": {"enabled": False}},
            "auth": {"openapi": {"bearerAuth": {"bearer": token(key_id)}}},
        }
    )


@pytest.fixture(params=sorted(ROLES), scope="module")
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def api(served: str, role: str) -> Iterator[Any]:
    schema = schemathesis.openapi.from_url(f"{served}/v1/openapi.json", config=_config(ROLES[role]))
    operations = sum(1 for _ in schema.get_all_operations())
    started = time.monotonic()
    yield schema
    # A run that sent (next to) nothing would pass without having tested anything.
    print(f"\n{role}: {CASES.get(role, 0)} cases, {operations} operations, "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    assert CASES.get(role, 0) >= 10 * operations, CASES


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
def test_every_answer_keeps_the_contract(case: schemathesis.Case, role: str) -> None:
    CASES[role] = CASES.get(role, 0) + 1
    _fresh_idempotency_key(case)
    case.call_and_validate(checks=CHECKS, timeout=30)


def _fresh_idempotency_key(case: schemathesis.Case) -> None:
    """A valid Idempotency-Key made unique to this case.

    Schemathesis draws the same few keys again and again; a key used before with another body
    is answered 409 before the body is read (as documented), so most cases would never reach
    validation. A fresh valid key keeps the case what it was (positive or negative: an invalid
    key, the part a negative case broke, is left alone) and lets its body be judged.
    """
    headers = case.headers or {}
    given = headers.get("Idempotency-Key")
    if isinstance(given, str) and _IDEMPOTENCY_KEY.fullmatch(given):
        headers["Idempotency-Key"] = f"contract-{next(_KEY_NUMBERS)}"
