"""File names in the drop directory: sanitising and the data file's extension."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.filedrop import MAX_FILENAME_CHARS, file_extension, sanitise_filename

DROP = Path(tempfile.gettempdir()) / "ozgbridge-sanitiser-property"

# Characters that matter here, mixed into arbitrary text far more often than chance would.
TRICKY = st.sampled_from(["/", "\\", ".", "..", "\x00", "\n", " ", "ä", "\u202e", ":", "~", "é"])
NAMES = st.one_of(st.text(), st.lists(st.one_of(TRICKY, st.text(max_size=5))).map("".join))


@settings(max_examples=500, database=None)
@given(NAMES)
@example("../../etc/passwd")
@example("..")
@example("." * 300)
@example("/")
@example("\\\\server\\share\\")
def test_any_name_becomes_one_safe_component(name: str) -> None:
    safe = sanitise_filename(name)

    assert safe
    assert len(safe) <= MAX_FILENAME_CHARS
    assert os.sep not in safe
    assert "/" not in safe
    assert "\\" not in safe
    assert "\x00" not in safe
    assert ".." not in safe
    assert not safe.startswith(".")
    assert (DROP / safe).resolve().parent == DROP.resolve()
    assert sanitise_filename(safe) == safe


@settings(database=None)
@given(
    st.text(alphabet="abcdefghij äöß_-", min_size=1, max_size=600),
    st.sampled_from(["pdf", "jpeg", "xml"]),
)
def test_long_names_keep_their_extension(stem: str, extension: str) -> None:
    safe = sanitise_filename(f"Z{stem}.{extension}")

    assert safe.endswith(f".{extension}")
    assert len(safe) <= MAX_FILENAME_CHARS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Bescheinigung Müller.pdf", "Bescheinigung Müller.pdf"),
        ("Bescheinigung Mu\u0308ller.pdf", "Bescheinigung Müller.pdf"),  # decomposed umlaut
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\erika\\Scan 1.pdf", "Scan 1.pdf"),
        ("/abs/path", "path"),
        ("a\x00b.pdf", "ab.pdf"),
        ("line\nbreak.txt", "linebreak.txt"),
        ("..", "file"),
        ("", "file"),
        ("   ", "file"),
        ("folder/", "folder"),
        (".hidden", "hidden"),
        ("trailing. . ", "trailing"),
        ("a..b...pdf", "a.b.pdf"),
        ("Rechnung #12 (Kopie) €.pdf", "Rechnung _12 _Kopie_ _.pdf"),
        ("名前.pdf", "__.pdf"),
        ("rechnung\u202efdp.exe", "rechnungfdp.exe"),
    ],
)
def test_sanitised_examples(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected


def test_fallback_is_used_for_nothing_left() -> None:
    assert sanitise_filename("///", fallback="attachment") == "attachment"


def test_overlong_name_without_extension_is_cut() -> None:
    assert sanitise_filename("x" * 500) == "x" * MAX_FILENAME_CHARS


def test_overlong_extension_is_not_treated_as_one() -> None:
    safe = sanitise_filename("a." + "b" * 300)

    assert len(safe) == MAX_FILENAME_CHARS
    assert safe.startswith("a.bbb")


@pytest.mark.parametrize(
    ("mime_type", "extension"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON", "json"),
        ("application/vnd.xoev+json", "json"),
        ("application/xml", "xml"),
        ("text/xml", "xml"),
        ("application/xoev-gewerbe+xml", "xml"),
        ("application/pdf", "pdf"),
        ("image/jpeg", "bin"),
        ("application/octet-stream", "bin"),
        ("", "bin"),
    ],
)
def test_data_file_extension(mime_type: str, extension: str) -> None:
    assert file_extension(mime_type) == extension
