"""The ``sftp`` connector's options, checked when the configuration loads."""

from __future__ import annotations

import ipaddress
import re

import asyncssh
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from ozgbridge.configfile import FieldValueError
from ozgbridge.connector import ConnectorOptions

_HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}")


def parse_known_hosts(text: str) -> asyncssh.SSHKnownHosts:
    try:
        return asyncssh.import_known_hosts(text)
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise ValueError(
            f"is not in OpenSSH known_hosts format ({exc}); write the lines "
            "'host key-type base64-key' (ssh-keyscan prints them), or ${file:PATH}"
        ) from None


def parse_private_key(text: str, passphrase: str | None) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_private_key(text, passphrase)
    except (ValueError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError):
        # Neither the key nor asyncssh's message about it goes into the error.
        raise ValueError(
            "is not a private key (OpenSSH or PEM), or private_key_passphrase is wrong or missing"
        ) from None


class SftpOptions(ConnectorOptions):
    """Options of the ``sftp`` connector.

    ``known_hosts`` is required: the server's host key is always checked against it (OpenSSH
    format, usually ``${file:known_hosts}``; a line for ``[host]:port`` when the port is not 22).
    Authentication is by ``password`` or ``private_key`` (or both, if the server asks for both),
    each a secret reference. ``directory`` is the drop directory on the server (absolute, or
    relative to the login directory); it must exist.
    """

    # Validation errors must not quote passwords or keys back into logs and CLI output.
    model_config = ConfigDict(hide_input_in_errors=True)

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=256)
    password: SecretStr | None = None
    private_key: SecretStr | None = None
    private_key_passphrase: SecretStr | None = None
    known_hosts: str = Field(min_length=1)
    directory: str = Field(min_length=1, max_length=4096)
    _client_key: asyncssh.SSHKey | None = PrivateAttr(default=None)

    @field_validator("host")
    @classmethod
    def _is_a_host_name(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or address")
        return value

    @field_validator("known_hosts")
    @classmethod
    def _is_known_hosts(cls, value: str) -> str:
        parse_known_hosts(value)
        return value

    @field_validator("directory")
    @classmethod
    def _is_a_remote_path(cls, value: str) -> str:
        if "\x00" in value or "\n" in value:
            raise ValueError("must be one path without NUL or line breaks")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SftpOptions:
        if self.password is None and self.private_key is None:
            raise ValueError("give password or private_key (as ${env:…} or ${file:…})")
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase without private_key has no effect")
        # Decrypting a passphrase-protected key is slow on purpose (bcrypt): do it once.
        self._client_key = self._load_client_key()
        if not any(self.host_keys().match(self.host, self._address(), self.port)[:2]):
            raise ValueError(
                f"known_hosts has no key for {self.host} (port {self.port}); "
                f"add the server's line (ssh-keyscan -p {self.port} {self.host})"
            )
        return self

    def _address(self) -> str:
        try:
            return str(ipaddress.ip_address(self.host))
        except ValueError:
            return ""

    def host_keys(self) -> asyncssh.SSHKnownHosts:
        return parse_known_hosts(self.known_hosts)

    def client_key(self) -> asyncssh.SSHKey | None:
        return self._client_key

    def _load_client_key(self) -> asyncssh.SSHKey | None:
        if self.private_key is None:
            return None
        passphrase = self.private_key_passphrase
        try:
            return parse_private_key(
                self.private_key.get_secret_value(),
                passphrase.get_secret_value() if passphrase else None,
            )
        except ValueError as exc:
            raise FieldValueError(str(exc), "private_key") from None

    def remote_directory(self) -> str:
        return self.directory.rstrip("/") or "/"
