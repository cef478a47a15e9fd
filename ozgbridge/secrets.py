"""Secret references in connector options: secrets (Geheimnisse) are never written inline.

Any string under a route's ``options`` may contain

- ``${env:NAME}`` — the value of environment variable ``NAME``;
- ``${file:PATH}`` — the content of a file, trailing newlines stripped (Docker/Kubernetes secrets);
  a relative ``PATH`` is taken relative to the configuration directory;
- ``$${`` — a literal ``${``.

A reference may be the whole value or a part of it (``https://svc:${env:PW}@host``). An option whose
name says it holds a secret (see `is_secret_field`) must use at least one reference: a literal
value there is refused, because configuration files are reviewed and kept in git.

Without resolution (``resolve=False``, for validating on a machine that lacks the secrets) strings
holding references are kept verbatim, so nobody mistakes a placeholder for a real value; the
locations of those strings are reported so callers can ignore checks that depend on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ozgbridge.errors import InvalidValue

Loc = tuple[str | int, ...]

# One alternation so escapes, references and broken references are found left to right.
_TOKEN = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "passphrase",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "credential",
        "credentials",
    }
)
# A last word like these names something *about* a secret (where it is, how it is used),
# which is safe to write down: key_id, token_url, api_key_header, key_file.
_NOT_SECRET_SUFFIXES = frozenset(
    {
        "id",
        "kid",
        "url",
        "uri",
        "endpoint",
        "header",
        "name",
        "file",
        "path",
        "type",
        "alg",
        "algorithm",
        "size",
        "length",
        "bits",
        "ttl",
        "field",
        "format",
    }
)

INLINE_SECRET_MESSAGE = "write secrets as ${env:NAME} or ${file:PATH}, never inline"  # noqa: S105


class SecretReferenceError(InvalidValue):
    """A reference that is malformed or cannot be resolved; the message never holds a secret."""


def is_secret_field(name: str) -> bool:
    """Whether an option called ``name`` holds a secret, judged by its words.

    ``signing_secret``, ``password``, ``apiKey``, ``private_key_pem``, ``access_token`` do;
    ``key_id``, ``kid``, ``token_url``, ``api_key_header`` and ``public_key`` do not.
    """
    words = [word.lower() for word in _WORD.findall(name)]
    if not words or "public" in words or words[-1] in _NOT_SECRET_SUFFIXES:
        return False
    return any(word in _SECRET_WORDS for word in words)


def has_reference(value: str) -> bool:
    """Whether ``value`` contains a ``${…}`` reference (escaped ``$${`` does not count)."""
    return any(match.group(0) != "$${" for match in _TOKEN.finditer(value))


@dataclass(frozen=True)
class SecretResolver:
    """Resolves references against an environment and a base directory for relative files."""

    base_dir: Path
    environ: Mapping[str, str]
    resolve: bool = True

    def resolve_string(self, value: str) -> str:
        """``value`` with its references replaced; raises `SecretReferenceError`.

        With ``resolve=False`` the references are only checked for their syntax and a string that
        holds one is returned unchanged.
        """
        parts: list[str] = []
        position = 0
        for match in _TOKEN.finditer(value):
            parts.append(value[position : match.start()])
            position = match.end()
            if match.group(0) == "$${":
                parts.append("${")
            elif match.group("body") is None:
                raise SecretReferenceError("unterminated '${' (write $${ for a literal '${')")
            else:
                parts.append(self._reference(match.group("body")))
        parts.append(value[position:])
        if not self.resolve and has_reference(value):
            return value
        return "".join(parts)

    def _reference(self, body: str) -> str:
        scheme, _, target = body.partition(":")
        if scheme == "env":
            if not _ENV_NAME.fullmatch(target):
                raise SecretReferenceError(
                    f"${{env:{target}}} does not name an environment variable"
                )
            if not self.resolve:
                return ""
            try:
                return self.environ[target]
            except KeyError:
                raise SecretReferenceError(
                    f"environment variable {target} is not set (referenced as ${{env:{target}}})"
                ) from None
        if scheme == "file":
            if not target:
                raise SecretReferenceError("${file:} needs a path")
            if not self.resolve:
                return ""
            return self._read(target)
        raise SecretReferenceError(
            f"unknown reference '${{{body}}}': use ${{env:NAME}} or ${{file:PATH}}"
            " (write $${ for a literal '${')"
        )

    def _read(self, target: str) -> str:
        path = self.base_dir / target  # an absolute target replaces base_dir
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SecretReferenceError(f"secret file {target} is not UTF-8 text") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SecretReferenceError(f"cannot read secret file {target}: {reason}") from None
        return content.rstrip("\r\n")


@dataclass
class ResolvedOptions:
    """Options with references resolved, what went wrong, and where references were."""

    options: dict[str, Any]
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    references: list[Loc] = field(default_factory=list)
    walking: set[int] = field(default_factory=set, repr=False)

    def unjudgeable(self, resolving: bool) -> list[Loc]:
        """Where a value's own check would only repeat a problem, or judge a placeholder: the
        locations with a problem, and, when references are not resolved, every reference."""
        return [loc for loc, _ in self.problems] + ([] if resolving else self.references)


def resolve_options(options: Mapping[str, Any], resolver: SecretResolver) -> ResolvedOptions:
    """Resolve every string in ``options`` (recursively) and refuse inline secrets.

    Locations are relative to the options mapping, e.g. ``("auth", "password")``.
    """
    result = ResolvedOptions(options={}, walking={id(options)})
    result.options = _resolve_mapping(options, (), resolver, result)
    return result


def _resolve_mapping(
    mapping: Mapping[str, Any], loc: Loc, resolver: SecretResolver, result: ResolvedOptions
) -> dict[str, Any]:
    return {
        key: _resolve_value(value, (*loc, key), resolver, result, secret=is_secret_field(str(key)))
        for key, value in mapping.items()
    }


def _resolve_value(
    value: Any, loc: Loc, resolver: SecretResolver, result: ResolvedOptions, *, secret: bool
) -> Any:
    if isinstance(value, Mapping | list):
        # YAML aliases can make a value contain itself (&a [*a]); walking it would never end.
        if id(value) in result.walking:
            result.problems.append((loc, "refers to itself (YAML alias loop)"))
            return None
        result.walking.add(id(value))
        try:
            if isinstance(value, Mapping):
                return _resolve_mapping(value, loc, resolver, result)
            # Items of a secret list (api_keys: [...]) are secrets too.
            return [
                _resolve_value(item, (*loc, index), resolver, result, secret=secret)
                for index, item in enumerate(value)
            ]
        finally:
            result.walking.discard(id(value))
    if not isinstance(value, str):
        return value
    if has_reference(value):
        result.references.append(loc)
    elif secret and value:
        result.problems.append((loc, INLINE_SECRET_MESSAGE))
        return value
    try:
        return resolver.resolve_string(value)
    except SecretReferenceError as exc:
        result.problems.append((loc, str(exc)))
        return value
