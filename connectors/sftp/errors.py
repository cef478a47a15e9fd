"""What an SSH or SFTP failure means for the delivery: the one place asyncssh errors are translated.

SFTP status codes are those of draft-ietf-secsh-filexfer-13 §9.1 (codes 1–8 already in the
version 3 draft -02 that OpenSSH speaks). Almost every failure on a file server can be fixed without
touching the application (a full disk, a missing or read-only directory, a lost connection), so
it is retriable, as in the ``filedrop`` connector. Permanent are only answers that will be the
same next time for the same application: an operation the server does not implement, a name it
refuses, a parameter it rejects; and, on the SSH level, a host key that does not match
``known_hosts`` (possibly someone in the middle: a human must look) and a refused login.

Details name the server, the status and the operation, never the server's text: it may quote a
path, and paths hold attachment names; that text goes into the error's ``response_excerpt``.
"""

from __future__ import annotations

from typing import Literal

import asyncssh

from ozgbridge.egress import EgressRefused
from ozgbridge.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError

Outcome = Literal["retriable", "permanent"]
EXCERPT_CHARS = 1024

STATUS_NAMES = {
    asyncssh.FX_EOF: "FX_EOF",
    asyncssh.FX_NO_SUCH_FILE: "FX_NO_SUCH_FILE",
    asyncssh.FX_PERMISSION_DENIED: "FX_PERMISSION_DENIED",
    asyncssh.FX_FAILURE: "FX_FAILURE",
    asyncssh.FX_BAD_MESSAGE: "FX_BAD_MESSAGE",
    asyncssh.FX_NO_CONNECTION: "FX_NO_CONNECTION",
    asyncssh.FX_CONNECTION_LOST: "FX_CONNECTION_LOST",
    asyncssh.FX_OP_UNSUPPORTED: "FX_OP_UNSUPPORTED",
    asyncssh.FX_INVALID_HANDLE: "FX_INVALID_HANDLE",
    asyncssh.FX_NO_SUCH_PATH: "FX_NO_SUCH_PATH",
    asyncssh.FX_FILE_ALREADY_EXISTS: "FX_FILE_ALREADY_EXISTS",
    asyncssh.FX_WRITE_PROTECT: "FX_WRITE_PROTECT",
    asyncssh.FX_NO_MEDIA: "FX_NO_MEDIA",
    asyncssh.FX_NO_SPACE_ON_FILESYSTEM: "FX_NO_SPACE_ON_FILESYSTEM",
    asyncssh.FX_QUOTA_EXCEEDED: "FX_QUOTA_EXCEEDED",
    asyncssh.FX_UNKNOWN_PRINCIPAL: "FX_UNKNOWN_PRINCIPAL",
    asyncssh.FX_LOCK_CONFLICT: "FX_LOCK_CONFLICT",
    asyncssh.FX_DIR_NOT_EMPTY: "FX_DIR_NOT_EMPTY",
    asyncssh.FX_NOT_A_DIRECTORY: "FX_NOT_A_DIRECTORY",
    asyncssh.FX_INVALID_FILENAME: "FX_INVALID_FILENAME",
    asyncssh.FX_LINK_LOOP: "FX_LINK_LOOP",
    asyncssh.FX_CANNOT_DELETE: "FX_CANNOT_DELETE",
    asyncssh.FX_INVALID_PARAMETER: "FX_INVALID_PARAMETER",
    asyncssh.FX_FILE_IS_A_DIRECTORY: "FX_FILE_IS_A_DIRECTORY",
}
_PERMANENT_STATUSES = frozenset(
    {asyncssh.FX_OP_UNSUPPORTED, asyncssh.FX_INVALID_FILENAME, asyncssh.FX_INVALID_PARAMETER}
)
CONNECTION_STATUSES = frozenset({asyncssh.FX_NO_CONNECTION, asyncssh.FX_CONNECTION_LOST})


def status_outcome(code: int) -> Outcome:
    """Whether an SFTP status ``code`` answering a request is worth another attempt."""
    return "permanent" if code in _PERMANENT_STATUSES else "retriable"


def translate(exc: asyncssh.Error | OSError, *, host: str, port: int, step: str) -> DeliveryError:
    """The `DeliveryError` for anything talking to the server raised; ``raise … from exc``.

    ``step`` names the operation that failed (``connect``, ``mkdir``, ``write``, …). The server's
    own text goes into ``response_excerpt`` only (kept for operators, never logged).
    """
    server = f"the SFTP server {host}:{port}"
    if isinstance(exc, EgressRefused):  # the route is wrong: trying again cannot help
        return PermanentDeliveryError(f"{server}: {exc}")
    excerpt = exc.reason[:EXCERPT_CHARS] or None if isinstance(exc, asyncssh.Error) else None
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return PermanentDeliveryError(
            f"the SSH host key of {host}:{port} does not match known_hosts: refusing to connect "
            "(update known_hosts only after checking the new key with the server's operator)",
            response_excerpt=excerpt,
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return PermanentDeliveryError(
            f"{server} refused the login (username, password or private_key)",
            response_excerpt=excerpt,
        )
    if isinstance(exc, asyncssh.SFTPError):
        name = STATUS_NAMES.get(exc.code, "unknown status")
        detail = f"{server} answered {name} ({exc.code}) to {step}"
        if status_outcome(exc.code) == "permanent":
            return PermanentDeliveryError(detail, response_excerpt=excerpt)
        return RetriableDeliveryError(detail, response_excerpt=excerpt)
    if isinstance(exc, asyncssh.DisconnectError):
        # Lost connections, failed key exchange, protocol errors: the network or server may heal.
        return RetriableDeliveryError(
            f"the SSH connection to {host}:{port} ended during {step} ({type(exc).__name__})",
            response_excerpt=excerpt,
        )
    if isinstance(exc, asyncssh.ChannelOpenError):
        return RetriableDeliveryError(f"{server} refused an SFTP session", response_excerpt=excerpt)
    return RetriableDeliveryError(f"{type(exc).__name__} talking to {server}")
