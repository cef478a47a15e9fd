"""Replacing a file the operator owns (a key file, ``keys.yaml``) so it is never half-written.

The new text goes to a temporary file beside it, is fsynced, gets the file's mode and, where the
process may, its owner — a file replaced by root must stay readable by the service user — and is
renamed over the file only once an optional check of the written file has passed. A symlink
is followed: the file it points to is replaced, and the link stays (the container image links
``/etc/ozgbridge/keys.yaml`` into a mounted directory; secrets are often linked into place).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_text(
    path: Path,
    text: str,
    *,
    check: Callable[[Path], object] | None = None,
    new_file_mode: int = 0o640,
) -> None:
    """Make ``path`` hold ``text`` (``new_file_mode`` if it does not exist yet). ``check`` sees
    the written temporary file first; whatever it raises leaves ``path`` as it was."""
    path = path.resolve()
    status = path.stat() if path.exists() else None
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, status.st_mode & 0o777 if status else new_file_mode)
        if status is not None:
            # Not root: the file stays ours, as the one it replaces was.
            with contextlib.suppress(PermissionError):
                os.chown(temporary, status.st_uid, status.st_gid)
        if check is not None:
            check(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
