"""SFTP statuses and SSH failures → what happens to the delivery; the connector's options."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import asyncssh
import pytest
from pydantic import ValidationError

from connectors.sftp import SftpOptions
from connectors.sftp.errors import STATUS_NAMES, status_outcome, translate
from ozgbridge.errors import PermanentDeliveryError, RetriableDeliveryError

R, P = "retriable", "permanent"

# draft-ietf-secsh-filexfer-13 §9.1; 1-8 are the version 3 codes OpenSSH sends.
STATUS_TABLE = [
    (asyncssh.FX_EOF, R),
    (asyncssh.FX_NO_SUCH_FILE, R),  # the drop directory is gone for a moment
    (asyncssh.FX_PERMISSION_DENIED, R),  # fixable on the server, as EACCES in filedrop
    (asyncssh.FX_FAILURE, R),
    (asyncssh.FX_BAD_MESSAGE, R),
    (asyncssh.FX_NO_CONNECTION, R),
    (asyncssh.FX_CONNECTION_LOST, R),
    (asyncssh.FX_OP_UNSUPPORTED, P),  # the server lacks mkdir/rename: no retry can help
    (asyncssh.FX_INVALID_HANDLE, R),
    (asyncssh.FX_NO_SUCH_PATH, R),
    (asyncssh.FX_FILE_ALREADY_EXISTS, R),
    (asyncssh.FX_WRITE_PROTECT, R),
    (asyncssh.FX_NO_MEDIA, R),
    (asyncssh.FX_NO_SPACE_ON_FILESYSTEM, R),
    (asyncssh.FX_QUOTA_EXCEEDED, R),
    (asyncssh.FX_UNKNOWN_PRINCIPAL, R),
    (asyncssh.FX_LOCK_CONFLICT, R),
    (asyncssh.FX_DIR_NOT_EMPTY, R),
    (asyncssh.FX_NOT_A_DIRECTORY, R),
    (asyncssh.FX_INVALID_FILENAME, P),  # the same name would be refused next time
    (asyncssh.FX_LINK_LOOP, R),
    (asyncssh.FX_CANNOT_DELETE, R),
    (asyncssh.FX_INVALID_PARAMETER, P),
    (asyncssh.FX_FILE_IS_A_DIRECTORY, R),
    (99, R),  # unknown to the draft: assume the server may recover
]


@pytest.mark.parametrize(("code", "expected"), STATUS_TABLE)
def test_status_outcome_table(code: int, expected: str) -> None:
    assert status_outcome(code) == expected


@pytest.mark.parametrize(
    ("exc", "error", "detail"),
    [
        (
            asyncssh.SFTPPermissionDenied("/drop/.tmp-x/attachments/01-Erika Mustermann.pdf"),
            RetriableDeliveryError,
            "the SFTP server sftp.example:22 answered FX_PERMISSION_DENIED (3) to write",
        ),
        (
            asyncssh.SFTPNoSpaceOnFilesystem("disk full"),
            RetriableDeliveryError,
            "the SFTP server sftp.example:22 answered FX_NO_SPACE_ON_FILESYSTEM (14) to write",
        ),
        (
            asyncssh.SFTPInvalidFilename("01-Erika Mustermann.pdf"),
            PermanentDeliveryError,
            "the SFTP server sftp.example:22 answered FX_INVALID_FILENAME (20) to write",
        ),
        (
            asyncssh.SFTPError(42, "odd"),
            RetriableDeliveryError,
            "the SFTP server sftp.example:22 answered unknown status (42) to write",
        ),
        (
            asyncssh.HostKeyNotVerifiable("Host key is not trusted"),
            PermanentDeliveryError,
            "the SSH host key of sftp.example:22 does not match known_hosts: refusing to "
            "connect (update known_hosts only after checking the new key with the server's "
            "operator)",
        ),
        (
            asyncssh.PermissionDenied("Permission denied"),
            PermanentDeliveryError,
            "the SFTP server sftp.example:22 refused the login (username, password or private_key)",
        ),
        (
            asyncssh.ConnectionLost("Connection lost"),
            RetriableDeliveryError,
            "the SSH connection to sftp.example:22 ended during write (ConnectionLost)",
        ),
        (
            asyncssh.KeyExchangeFailed("No matching algorithm"),
            RetriableDeliveryError,
            "the SSH connection to sftp.example:22 ended during write (KeyExchangeFailed)",
        ),
        (
            asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "no"),
            RetriableDeliveryError,
            "the SFTP server sftp.example:22 refused an SFTP session",
        ),
        (
            ConnectionRefusedError(111, "Connection refused"),
            RetriableDeliveryError,
            "ConnectionRefusedError talking to the SFTP server sftp.example:22",
        ),
    ],
)
def test_errors_translate_once_without_the_servers_text(
    exc: asyncssh.Error | OSError, error: type[Exception], detail: str
) -> None:
    translated = translate(exc, host="sftp.example", port=22, step="write")

    assert type(translated) is error
    assert translated.detail == detail
    assert "Mustermann" not in translated.detail


def test_the_servers_text_is_kept_apart_from_the_detail() -> None:
    exc = asyncssh.SFTPPermissionDenied("/drop/.tmp-x/attachments/01-Erika Mustermann.pdf")

    translated = translate(exc, host="sftp.example", port=22, step="write")

    assert translated.response_excerpt == "/drop/.tmp-x/attachments/01-Erika Mustermann.pdf"
    assert translate(OSError(5, "EIO"), host="h", port=22, step="x").response_excerpt is None


def test_every_named_status_is_in_the_table() -> None:
    assert {code for code, _ in STATUS_TABLE} >= set(STATUS_NAMES) - {99}


HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
KNOWN_HOSTS = f"sftp.heinsberg.example {HOST_KEY.export_public_key().decode().strip()}\n"
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
BASE = {
    "host": "sftp.heinsberg.example",
    "username": "ozgbridge",
    "password": "pw",
    "known_hosts": KNOWN_HOSTS,
    "directory": "/import/ozg",
}


def error_of(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        SftpOptions.model_validate(BASE | overrides)
    return str(caught.value)


def test_valid_options_and_their_defaults() -> None:
    options = SftpOptions.model_validate(BASE)

    assert options.port == 22
    assert options.remote_directory() == "/import/ozg"
    assert SftpOptions.model_validate(BASE | {"directory": "/"}).remote_directory() == "/"
    assert options.client_key() is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"known_hosts": None}, "Input should be a valid string"),
        ({"known_hosts": ""}, "at least 1 character"),
        ({"known_hosts": "/etc/ssh/known_hosts"}, "is not in OpenSSH known_hosts format"),
        ({"host": "other.example"}, "known_hosts has no key for other.example (port 22)"),
        ({"password": None}, "give password or private_key"),
        ({"private_key_passphrase": "x"}, "private_key_passphrase without private_key"),
        ({"private_key": "not a key"}, "is not a private key"),
        ({"directory": "a\x00b"}, "must be one path"),
        ({"directory": ""}, "at least 1 character"),
        ({"host": "a b"}, "is not a host name"),
        ({"hostname": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_options_are_refused(overrides: dict[str, Any], message: str) -> None:
    assert message in error_of(**overrides)


def hashed(host: str) -> str:
    """A known_hosts host field as ``ssh-keygen -H`` writes it (HMAC-SHA1 with a salt)."""
    salt = os.urandom(20)
    digest = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_known_hosts_lines_with_a_port_or_hashed_names_match() -> None:
    public = HOST_KEY.export_public_key().decode().strip()

    for host_field, port in [
        ("[sftp.heinsberg.example]:2222", 2222),
        (hashed("sftp.heinsberg.example"), 22),
        (hashed("[sftp.heinsberg.example]:2222"), 2222),
    ]:
        options = BASE | {"port": port, "known_hosts": f"{host_field} {public}\n"}
        assert SftpOptions.model_validate(options).port == port
    other = BASE | {"known_hosts": f"{hashed('elsewhere.example')} {public}\n"}
    with pytest.raises(ValidationError, match="known_hosts has no key"):
        SftpOptions.model_validate(other)


def test_private_key_is_parsed_once_and_never_quoted() -> None:
    pem = CLIENT_KEY.export_private_key().decode()
    options = SftpOptions.model_validate(BASE | {"password": None, "private_key": pem})

    assert options.client_key() is not None
    assert options.client_key() is options.client_key()
    text = error_of(private_key=pem[:-40], password=None)
    assert "is not a private key" in text
    assert pem[40:80] not in text
