"""Sealing stored content: AES-256-GCM with a random 96-bit nonce per value.

A sealed value is ``nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)``; the id of the key that
sealed it is stored beside it, in its own column. The associated data names the column and the
row (``applications.data:<application id>``), so a sealed value copied into another row or
another column no longer opens — GCM authenticates it together with where it belongs.

Random nonces are safe for 2³² values per key (NIST SP 800-38D, section 8.3); rotate keys long
before that (a key a year is far below it at any plausible volume).

One `AESGCM` object per key, made once: building one per value would cost more than sealing a
small form.

A reload (SIGHUP, ``POST /v1/admin/reload``) gives a running process a new key file
(`Sealer.use_keys`): the keys swap as one object, and whoever seals several values and stores the
key id beside them takes a `Sealer.pinned` view first, so a swap between two steps (a sealing
thread, an await) cannot store one key's id beside another key's ciphertext.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ozgbridge.dataprotection.keys import DataKeys
from ozgbridge.errors import DataKeyError, SealBrokenError, UnknownDataKeyError

NONCE_BYTES = 12
TAG_BYTES = 16


def application_data_aad(application_id: str) -> bytes:
    return b"applications.data:" + application_id.encode("ascii")


def attachment_content_aad(attachment_id: str) -> bytes:
    return b"attachments.content:" + attachment_id.encode("ascii")


def attachment_filename_aad(attachment_id: str) -> bytes:
    return b"attachments.filename:" + attachment_id.encode("ascii")


def attempt_response_aad(delivery_id: str, number: int) -> bytes:
    return f"attempts.response_excerpt:{delivery_id}:{number}".encode("ascii")


def status_note_aad(entry_id: str) -> bytes:
    return b"status_history.note:" + entry_id.encode("ascii")


def portal_event_body_aad(event_id: str) -> bytes:
    # The event id, not ``seq``: it is known before the row is written.
    return b"portal_events.body:" + event_id.encode("ascii")


@dataclass(frozen=True)
class _Ring:
    """One key file's keys, ready to seal and open."""

    keys: DataKeys | None
    ciphers: dict[str, AESGCM] = field(repr=False)
    key_id: str | None
    primary: AESGCM | None = field(repr=False)

    @classmethod
    def of(cls, keys: DataKeys | None) -> _Ring:
        ciphers = {key.id: AESGCM(key.secret) for key in keys.keys} if keys else {}
        key_id = keys.primary.id if keys else None
        return cls(keys, ciphers, key_id, ciphers[key_id] if key_id is not None else None)


class Sealer:
    """Seals with the first data key, opens with any; without keys, stores plaintext.

    Running without keys is allowed only when the operator said so
    (``OZGBRIDGE_ALLOW_PLAINTEXT=true``, see `ozgbridge.dataprotection.startup`).
    """

    def __init__(self, keys: DataKeys | None) -> None:
        self._ring = _Ring.of(keys)
        self._fixed = False

    @classmethod
    def plaintext(cls) -> Sealer:
        return cls(None)

    @property
    def keys(self) -> DataKeys | None:
        return self._ring.keys

    @property
    def key_id(self) -> str | None:
        """The id of the key `seal` uses now (None: plaintext)."""
        return self._ring.key_id

    @property
    def sealing(self) -> bool:
        return self._ring.primary is not None

    def pinned(self) -> Sealer:
        """This sealer's keys as they are now, never swapped: seal with it and store its
        `key_id` beside what it sealed."""
        view = Sealer.__new__(Sealer)
        view._ring = self._ring
        view._fixed = True
        return view

    def use_keys(self, keys: DataKeys) -> None:
        """Seal with ``keys``' first key from now on, open with any of them (a reload).

        A process that runs without keys (``OZGBRIDGE_ALLOW_PLAINTEXT``) keeps doing so: keys
        come with a restart, as they went.
        """
        if self._fixed:
            raise TypeError("a pinned sealer keeps its keys")
        if self._ring.keys is None:
            raise DataKeyError("this process runs without data keys; restart it to use a key file")
        self._ring = _Ring.of(keys)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """``plaintext`` sealed under the first key (`key_id`); unchanged without keys."""
        primary = self._ring.primary
        if primary is None:
            return plaintext
        nonce = os.urandom(NONCE_BYTES)
        return nonce + primary.encrypt(nonce, plaintext, aad)

    def open(self, stored: bytes, key_id: str | None, aad: bytes, *, what: str) -> bytes:
        """The plaintext of a stored value; ``key_id`` None means it was stored in plaintext.

        ``what`` names the value in errors (ids only, never content).
        """
        if key_id is None:
            return stored
        cipher = self._ring.ciphers.get(key_id)
        if cipher is None:
            raise UnknownDataKeyError(key_id, self.unknown_key_message(key_id, what))
        try:
            return cipher.decrypt(stored[:NONCE_BYTES], stored[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise SealBrokenError(
                f"{what} does not authenticate under data key {key_id!r}: it was altered or "
                "moved, or the key file's key with that id is not the one that sealed it"
            ) from exc

    def knows(self, key_id: str | None) -> bool:
        return key_id is None or key_id in self._ring.ciphers

    def unknown_key_message(self, key_id: str, what: str) -> str:
        keys = self._ring.keys
        if keys is None:
            return (
                f"{what} is sealed under data key {key_id!r}, but no data keys are configured: "
                "set OZGBRIDGE_DATA_KEYS to the key file that holds it"
            )
        return (
            f"{what} is sealed under data key {key_id!r}, which {keys.source} does not hold "
            f"(it has {', '.join(repr(i) for i in keys.ids)}): add that key back to the file"
        )
