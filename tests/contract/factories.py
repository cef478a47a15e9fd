"""Moved to `ozgbridge.testing.factories` (shipped, so plug-in packages use them too)."""

from ozgbridge.testing.factories import (
    AWKWARD_PDF,
    FORM_DATA,
    PERSONAL_DATA,
    make_attachment,
    make_envelope,
)

__all__ = ["AWKWARD_PDF", "FORM_DATA", "PERSONAL_DATA", "make_attachment", "make_envelope"]
