"""Status codes, their rules, and the status document (API body and back-end answers)."""

from __future__ import annotations

import pytest

from ozgbridge.domain import RegionRef
from ozgbridge.status_document import InvalidStatusAnswer, report_in_answer
from ozgbridge.status_rules import (
    MAX_NOTE_CHARS,
    ProcessingStatus,
    StatusReport,
    check_report,
    normalise,
    note_problem,
)

ALL = list(ProcessingStatus)


def test_the_codes_are_the_ones_the_portal_shows() -> None:
    assert [str(s) for s in ALL] == [
        "confirmed",
        "in_progress",
        "information_required",
        "completed",
        "rejected",
        "withdrawn",
        "not_responsible",
    ]


def test_fitconnect_decisions_map_onto_confirmed_and_rejected() -> None:
    assert normalise("accepted") is ProcessingStatus.CONFIRMED
    assert normalise("accept-submission") is ProcessingStatus.CONFIRMED
    assert normalise("reject-submission") is ProcessingStatus.REJECTED
    assert normalise("rejected") is ProcessingStatus.REJECTED
    with pytest.raises(ValueError, match="approved"):
        normalise("approved")


@pytest.mark.parametrize("closed", ["completed", "rejected", "withdrawn"])
@pytest.mark.parametrize("new", ALL)
def test_a_closed_case_takes_a_new_status_from_an_operator_only(
    closed: str, new: ProcessingStatus
) -> None:
    report = StatusReport(new)

    refusal = check_report(report, closed, operator=False)

    assert refusal is not None
    assert refusal.status == 409
    assert closed in refusal.detail
    assert check_report(report, closed, operator=True) is None


@pytest.mark.parametrize("current", [None, "confirmed", "in_progress", "information_required",
                                     "not_responsible"])  # fmt: skip
def test_an_open_case_takes_any_status(current: str | None) -> None:
    for new in ALL:
        assert check_report(StatusReport(new), current, operator=False) is None


def test_forward_to_belongs_to_not_responsible_only() -> None:
    report = StatusReport(ProcessingStatus.IN_PROGRESS, forward_to=RegionRef.of(ags="05370004"))

    refusal = check_report(report, None, operator=True)

    assert refusal is not None
    assert refusal.status == 422


def test_note_limits() -> None:
    assert note_problem("Bitte reichen Sie\nden Lageplan nach.\t(Frist: 14 Tage)") is None
    assert note_problem("x" * MAX_NOTE_CHARS) is None
    assert note_problem("x" * (MAX_NOTE_CHARS + 1)) == (
        f"must be at most {MAX_NOTE_CHARS} characters (is {MAX_NOTE_CHARS + 1})"
    )
    assert note_problem("null\x00byte") == "must not contain control characters (found U+0000)"


def test_a_back_end_answer_without_status_reports_nothing() -> None:
    assert report_in_answer({"id": "FV-1"}) is None
    assert report_in_answer(["status"]) is None
    assert report_in_answer(None) is None


def test_a_back_end_answer_with_status_is_a_report_and_other_fields_are_ignored() -> None:
    report = report_in_answer(
        {"id": "FV-1", "status": "confirmed", "fileReference": "63-2026-0815", "note": "Danke"}
    )

    assert report == StatusReport(
        ProcessingStatus.CONFIRMED, note="Danke", file_reference="63-2026-0815"
    )


def test_a_back_end_answer_may_forward() -> None:
    report = report_in_answer({"status": "not_responsible", "forwardTo": {"ags": "05370000"}})

    assert report is not None
    assert report.forward_to == RegionRef.of(ags="05370000")


@pytest.mark.parametrize(
    ("answer", "fields"),
    [
        ({"status": "approved"}, ["status"]),
        ({"status": "confirmed", "note": "x" * (MAX_NOTE_CHARS + 1)}, ["note"]),
        ({"status": "confirmed", "forwardTo": {"ags": "05370000"}}, ["body"]),
        ({"status": "not_responsible", "forwardTo": {"ags": "1", "ars": "2"}}, ["forwardTo.ars",
                                                                               "forwardTo.ags"]),
    ],
)  # fmt: skip
def test_an_invalid_status_answer_names_fields_never_values(
    answer: dict[str, object], fields: list[str]
) -> None:
    with pytest.raises(InvalidStatusAnswer) as caught:
        report_in_answer(answer)

    assert caught.value.fields == fields
    assert "approved" not in str(caught.value)
