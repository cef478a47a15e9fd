"""What a reload answer calls "changed": the configuration, or a key file it swapped in."""

from __future__ import annotations

import pytest

from ozgbridge.live import ReloadResult


@pytest.mark.parametrize(
    ("ok", "fingerprint", "rotated", "changed"),
    [
        (True, "a", (), False),  # the same files: nothing to report
        (True, "b", (), True),  # the configuration directory changed
        (True, "a", ("data_keys",), True),  # only the data key file changed
        (True, "a", ("audit_key",), True),
        (False, "a", (), False),  # refused: the running configuration stays
    ],
)
def test_changed(ok: bool, fingerprint: str, rotated: tuple[str, ...], changed: bool) -> None:
    result = ReloadResult(ok=ok, fingerprint=fingerprint, previous_fingerprint="a", rotated=rotated)
    assert result.changed is changed
