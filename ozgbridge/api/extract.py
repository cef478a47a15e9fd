"""Parsing a large submission without holding it in memory several times over.

Parsed whole, a 20 MB submission is in memory about four times at once: the raw body, the JSON
parser's copy of every string, the base64 text of an attachment as a Python string, and its
decoded bytes. Here the body streams (from its spool file) through a scanner that follows the
JSON structure and decodes the base64 of ``data.contentBase64`` and each
``attachments[i].contentBase64`` chunk by chunk straight into bytes, leaving a placeholder
string in their place. What remains — the *skeleton*, a few kilobytes — is validated by the same
pydantic model as a small body, and the placeholders resolve to the decoded bytes (see
``_strict_base64`` in schemas.py). So only the decoded content is held, once.

The scanner never decides on its own what is valid: anything it does not expect (broken JSON, a
string that is not plain base64 — a bad character, an escape other than ``\\/`` or a
``\\u`` of a base64 character, wrong padding) stops extraction there, and the original text goes
into the skeleton as it was, so pydantic gives exactly the answer it gives for a small body.
Error positions in the skeleton are mapped back to positions in the body.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

_WHITESPACE = re.compile(rb"[ \t\n\r]*")
_SCALAR = re.compile(rb"[-+.0-9A-Za-z]*")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]*")
_PLAIN_STRING = re.compile(rb'[^"\\]*')
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_PAD = ord("=")
# Base64 text is decoded in pieces of about this many characters.
_DECODE_EVERY = 64 * 1024

# Scanner states.
_START, _VALUE, _OBJECT_FIRST, _OBJECT_KEY, _COLON, _AFTER, _ARRAY_FIRST, _END, _RAW = range(9)
_STRING, _KEY, _BASE64, _SCALAR_VALUE = range(9, 13)


def is_extracted(path: tuple[str | int, ...]) -> bool:
    """Where the content of a submission lives: decoded as it streams by."""
    if path == ("data", "contentBase64"):
        return True
    return (
        len(path) == 3
        and path[0] == "attachments"
        and isinstance(path[1], int)
        and path[2] == "contentBase64"
    )


@dataclass
class Extracted:
    skeleton: bytes
    values: dict[str, bytes]
    # (end offset of a placeholder in the skeleton, original length - placeholder length)
    shifts: list[tuple[int, int]] = field(default_factory=list)

    def original_column(self, line: int, column: int) -> int:
        """The column in the body of a (1-based) position pydantic reported in the skeleton."""
        start = 0
        for _ in range(line - 1):
            start = self.skeleton.find(b"\n", start) + 1
            if start == 0:
                return column
        offset = start + column - 1
        return column + sum(shift for end, shift in self.shifts if start <= end <= offset)


class _Scanner:
    def __init__(self) -> None:
        self.out = bytearray()
        self.values: dict[str, bytes] = {}
        self.shifts: list[tuple[int, int]] = []
        self.prefix = f"ozgbridge-spooled-{secrets.token_hex(16)}-"
        self.state = _START
        self.stack: list[list[str | int | None]] = []  # [kind "o"/"a", key or index]
        self.carry = b""  # the start of an escape cut off at the end of a chunk
        self.escaped = False  # the last character of a copied string was a backslash
        self.key = bytearray()
        # the base64 string being decoded
        self.base64 = bytearray()
        self.decoded = io.BytesIO()
        self.pads = 0
        self.length = 0  # characters of the string so far, quotes included

    # --- driving ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.carry:
            data, self.carry = self.carry + data, b""
        position, end = 0, len(data)
        while position < end:
            state = self.state
            if state == _RAW:
                self.out += data[position:]
                return
            if state in (_STRING, _KEY):
                position = self._copy_string(data, position)
            elif state == _BASE64:
                position = self._decode_string(data, position)
            elif state == _SCALAR_VALUE:
                stop = _SCALAR.match(data, position).end()  # type: ignore[union-attr]
                self.out += data[position:stop]
                position = stop
                if stop < end:
                    self._after_value()
            else:
                position = self._structure(data, position)

    def finish(self) -> Extracted:
        if self.state == _BASE64:
            self._give_up_string()  # unterminated: pydantic says where
        self.out += self.carry
        return Extracted(bytes(self.out), self.values, self.shifts)

    # --- structure ---------------------------------------------------------------------------

    def _structure(self, data: bytes, position: int) -> int:
        stop = _WHITESPACE.match(data, position).end()  # type: ignore[union-attr]
        if stop > position:
            self.out += data[position:stop]
            return stop
        char = data[position]
        state = self.state
        if state == _START:
            if char != ord("{"):
                return self._raw(position)
            return self._open(position, "o", None, _OBJECT_FIRST)
        if state in (_VALUE, _ARRAY_FIRST):
            if state == _ARRAY_FIRST and char == ord("]"):
                return self._close(position)
            if char == ord("{"):
                return self._open(position, "o", None, _OBJECT_FIRST)
            if char == ord("["):
                return self._open(position, "a", 0, _ARRAY_FIRST)
            if char == ord('"'):
                return self._string(position)
            if _SCALAR.match(data, position).end() > position:  # type: ignore[union-attr]
                self.state = _SCALAR_VALUE
                return position
            return self._raw(position)
        if state in (_OBJECT_FIRST, _OBJECT_KEY):
            if state == _OBJECT_FIRST and char == ord("}"):
                return self._close(position)
            if char != ord('"'):
                return self._raw(position)
            self.out.append(char)
            self.key.clear()
            self.state = _KEY
            return position + 1
        if state == _COLON:
            if char != ord(":"):
                return self._raw(position)
            self.out.append(char)
            self.state = _VALUE
            return position + 1
        if state == _AFTER:
            kind = self.stack[-1][0]
            if char == ord(","):
                self.out.append(char)
                if kind == "a":
                    index = self.stack[-1][1]
                    assert isinstance(index, int)
                    self.stack[-1][1] = index + 1
                    self.state = _VALUE
                else:
                    self.state = _OBJECT_KEY
                return position + 1
            if char == ord("}" if kind == "o" else "]"):
                return self._close(position)
        return self._raw(position)  # _END: anything but whitespace after the document

    def _open(self, position: int, kind: str, slot: str | int | None, state: int) -> int:
        self.out.append(ord("{" if kind == "o" else "["))
        self.stack.append([kind, slot])
        self.state = state
        return position + 1

    def _close(self, position: int) -> int:
        self.out.append(ord("}" if self.stack[-1][0] == "o" else "]"))
        self.stack.pop()
        self._after_value()
        return position + 1

    def _after_value(self) -> None:
        self.state = _AFTER if self.stack else _END

    def _raw(self, position: int) -> int:
        """Something unexpected: copy the rest as it is and let the parser judge it."""
        self.state = _RAW
        return position

    def _path(self) -> tuple[str | int, ...]:
        return tuple(slot for _kind, slot in self.stack if slot is not None)

    # --- strings -----------------------------------------------------------------------------

    def _string(self, position: int) -> int:
        if all(slot is not None for _kind, slot in self.stack) and is_extracted(self._path()):
            self.state = _BASE64
            self.base64.clear()
            self.decoded = io.BytesIO()
            self.pads = 0
            self.length = 1
            return position + 1
        self.out.append(ord('"'))
        self.state = _STRING
        self.escaped = False
        return position + 1

    def _copy_string(self, data: bytes, position: int) -> int:
        end = len(data)
        key = self.state == _KEY
        while position < end:
            if self.escaped:
                piece = data[position : position + 1]
                position += 1
                self.escaped = False
            else:
                stop = _PLAIN_STRING.match(data, position).end()  # type: ignore[union-attr]
                piece = data[position:stop]
                position = stop
                if position < end:
                    char = data[position]
                    position += 1
                    if char == ord('"'):
                        self.out += piece
                        self.out.append(char)
                        if key:
                            self.key += piece
                            return self._end_key(position)
                        self._after_value()
                        return position
                    piece += b"\\"
                    self.escaped = True
            self.out += piece
            if key:
                self.key += piece
        return position

    def _end_key(self, position: int) -> int:
        try:
            name = json.loads(b'"' + bytes(self.key) + b'"')
        except ValueError:
            return self._raw(position)
        self.stack[-1][1] = name
        self.state = _COLON
        return position

    def _decode_string(self, data: bytes, position: int) -> int:
        end = len(data)
        while position < end:
            stop = _BASE64_RUN.match(data, position).end()  # type: ignore[union-attr]
            if stop > position:
                if self.pads:
                    return self._give_up_string(position)  # data after padding
                self.base64 += data[position:stop]
                self.length += stop - position
                position = stop
                if len(self.base64) >= _DECODE_EVERY:
                    self._decode_some()
                continue
            char = data[position]
            if char == ord('"'):
                self.length += 1
                return self._end_base64(position + 1)
            if char == _PAD:
                width, value = 1, _PAD
            elif char == ord("\\"):
                if position + 2 > end or (data[position + 1] == ord("u") and position + 6 > end):
                    self.carry = data[position:]
                    return end
                width, value = self._escape(data, position)
            else:
                return self._give_up_string(position)
            if value == _PAD and self.pads < 2:
                self.pads += 1
            elif value not in _BASE64_ALPHABET or self.pads:
                return self._give_up_string(position)
            else:
                self.base64.append(value)
            self.length += width
            position += width
        return position

    @staticmethod
    def _escape(data: bytes, position: int) -> tuple[int, int]:
        """(width, character) of the escape at ``position``; character -1 if it is no use."""
        kind = data[position + 1]
        if kind == ord("/"):
            return 2, ord("/")
        if kind == ord("u") and _HEX4.fullmatch(data, position + 2, position + 6):
            code = int(data[position + 2 : position + 6], 16)
            return 6, code if code < 128 else -1
        return 2, -1

    def _decode_some(self) -> None:
        # Keep the last complete quad: the final check must see it with the padding after it.
        cut = (len(self.base64) // 4 - 1) * 4
        if cut > 0:
            self.decoded.write(binascii.a2b_base64(self.base64[:cut], strict_mode=True))
            del self.base64[:cut]

    def _end_base64(self, position: int) -> int:
        rest = bytes(self.base64) + b"=" * self.pads
        try:
            self.decoded.write(binascii.a2b_base64(rest, strict_mode=True))
        except binascii.Error:
            self._give_up_string()
            self.out.append(ord('"'))
            self._after_value()
            return position
        token = f"{self.prefix}{len(self.values)}"
        self.values[token] = self.decoded.getvalue()
        self.decoded = io.BytesIO()
        self.out += f'"{token}"'.encode()
        self.shifts.append((len(self.out), self.length - len(token) - 2))
        self._after_value()
        return position

    def _give_up_string(self, position: int | None = None) -> int:
        """Put the string's text so far into the skeleton and copy the rest of it as it is."""
        self.out.append(ord('"'))
        self.out += base64.b64encode(self.decoded.getvalue())
        self.out += self.base64
        self.out += b"=" * self.pads
        self.decoded = io.BytesIO()
        self.state = _STRING
        self.escaped = False
        return position if position is not None else 0


def extract(chunks: Iterable[bytes]) -> Extracted:
    scanner = _Scanner()
    for chunk in chunks:
        scanner.feed(chunk)
    return scanner.finish()
