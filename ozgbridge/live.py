"""The configuration a process runs with right now, and reloading it without a restart.

One `LiveConfig` per process holds the current `Runtime`. The API handlers (through
``ozgbridge.api.state.current``), the router and the worker read it when they start a piece of
work — a request, a claimed delivery — and keep that snapshot to the end of it, so a reload never
changes the rules under a running request or attempt.

`reload` re-reads the configuration directory, checks it fully (`runtime.load` and
`runtime.build`: exactly what start-up does) and swaps it in with one assignment. A configuration
with errors is refused and the running one stays; both outcomes are logged and audited
(``config.reloaded``, ``config.reload_refused``). The replaced runtime closes its connectors once
the deliveries that use it have finished. Reloads are serialised: a second one waits for the
first.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ozgbridge.errors import ConfigError, ConfigProblem, OzgbridgeError
from ozgbridge.routing import Router
from ozgbridge.runtime import Runtime
from ozgbridge.tenants import Deployment

logger = structlog.get_logger("ozgbridge.live")

Loader = Callable[[], Awaitable[Runtime]]
Auditor = Callable[[str, str, dict[str, Any]], Awaitable[None]]  # actor, action, details
# old, new → what else the swap changed besides the configuration (``"data_keys"``, say)
Swapped = Callable[[Runtime, Runtime], Awaitable[Sequence[str]]]


class ReloadUnavailable(OzgbridgeError):
    """This process was set up without a way to read its configuration again."""


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: swapped in ``fingerprint`` (``ok``), or refused for ``problems``."""

    ok: bool
    fingerprint: str
    previous_fingerprint: str
    problems: Sequence[ConfigProblem] = ()
    warnings: Sequence[ConfigProblem] = ()
    counts: dict[str, int] = field(default_factory=dict)
    # What the swap changed besides the configuration directory: the key files a reload reads
    # too ("data_keys", "audit_key"), as the swap's listeners report it.
    rotated: Sequence[str] = ()

    @property
    def changed(self) -> bool:
        return self.ok and (self.fingerprint != self.previous_fingerprint or bool(self.rotated))


def counts(deployment: Deployment) -> dict[str, int]:
    return {
        "tenants": len(deployment.tenants),
        "routes": sum(len(t.routes) for t in deployment.tenants.values()),
        "keys": len(deployment.keys),
    }


class LiveConfig:
    """Holds the current `Runtime`; `reload` replaces it atomically or not at all."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        loader: Loader | None = None,
        auditor: Auditor | None = None,
    ) -> None:
        self._runtime = runtime
        self._loader = loader
        self._auditor = auditor
        self._listeners: list[Swapped] = []
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def deployment(self) -> Deployment:
        return self._runtime.deployment

    @property
    def router(self) -> Router:
        return self._runtime.router

    @property
    def can_reload(self) -> bool:
        return self._loader is not None

    def on_swap(self, listener: Swapped) -> None:
        """Run ``listener(old, new)`` after each successful swap (e.g. restart intakes). It
        returns what else it changed (``"data_keys"`` when it swapped in other data keys), so
        that a reload that rotated only keys does not report "unchanged"."""
        self._listeners.append(listener)

    async def reload(self, *, actor: str) -> ReloadResult:
        """Read, check and swap in the configuration; refuse it (keeping the current one) if it
        has errors. ``actor`` goes into the log and the audit event (``signal:SIGHUP``,
        ``key:<id>``)."""
        if self._loader is None:
            raise ReloadUnavailable("this process cannot read its configuration again")
        async with self._lock:
            old = self._runtime
            try:
                new = await self._loader()
            except ConfigError as exc:
                return await self._refused(old, exc, actor)
            except Exception as exc:  # unreadable files, a broken plug-in: refused all the same
                logger.exception("config.reload_failed", actor=actor)
                problem = ConfigProblem("", "", f"cannot be loaded: {type(exc).__name__}: {exc}")
                return await self._refused(old, ConfigError([problem]), actor)
            self._runtime = new
            rotated: list[str] = []
            for listener in self._listeners:
                try:
                    rotated.extend(await listener(old, new))
                except Exception:  # the swap stands; a listener's failure is its own
                    logger.exception("config.reload_listener_failed", actor=actor)
            task = asyncio.create_task(old.retire(), name="retire-config")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            result = ReloadResult(
                ok=True,
                fingerprint=new.deployment.fingerprint,
                previous_fingerprint=old.deployment.fingerprint,
                warnings=tuple(new.deployment.warnings),
                counts=counts(new.deployment),
                rotated=tuple(rotated),
            )
            logger.info(
                "config.reloaded",
                actor=actor,
                fingerprint=result.fingerprint,
                previous_fingerprint=result.previous_fingerprint,
                changed=result.changed,
                rotated=list(result.rotated),
                warnings=len(result.warnings),
                in_flight_on_previous=old.users,
                **result.counts,
            )
            await self._audit(
                actor,
                "config.reloaded",
                {
                    "fingerprint": result.fingerprint,
                    "previous_fingerprint": result.previous_fingerprint,
                    **result.counts,
                },
            )
            return result

    async def _refused(self, old: Runtime, exc: ConfigError, actor: str) -> ReloadResult:
        result = ReloadResult(
            ok=False,
            fingerprint=old.deployment.fingerprint,
            previous_fingerprint=old.deployment.fingerprint,
            problems=tuple(exc.problems),
            warnings=tuple(exc.warnings),
            counts=counts(old.deployment),
        )
        # Problems name files, fields and lines: configuration, never application data.
        reasons = [str(problem) for problem in exc.problems]
        logger.error(
            "config.reload_refused",
            actor=actor,
            problems=len(reasons),
            reasons=reasons[:20],
            running_fingerprint=old.deployment.fingerprint,
        )
        await self._audit(
            actor,
            "config.reload_refused",
            {
                "problems": len(reasons),
                "reason": "; ".join(reasons[:5])[:1000],
                "running_fingerprint": old.deployment.fingerprint,
            },
        )
        return result

    async def _audit(self, actor: str, action: str, details: dict[str, Any]) -> None:
        if self._auditor is None:
            return
        try:
            await self._auditor(actor, action, details)
        except Exception:  # the database may be away; the log line above still tells
            logger.exception("config.audit_failed", action=action)

    async def aclose(self) -> None:
        """At shutdown: let replaced configurations finish, then close the current one."""
        async with self._lock:
            if self._retiring:
                await asyncio.gather(*self._retiring, return_exceptions=True)
            await self._runtime.retire()


def config_digest(config_dir: Path, *files: Path) -> str:
    """SHA-256 over every file of a configuration directory (names and contents), and over
    ``files`` outside it (the data and audit key files).

    Hidden entries are skipped: a Kubernetes ConfigMap or Secret volume keeps its versions in
    ``..data`` directories and shows each file through a symlink, which is followed — so the
    digest changes exactly when the kubelet swaps in a new version.
    """
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(config_dir, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in names if not f.startswith(".")):
            path = Path(root) / name
            digest.update(_named_content(str(path.relative_to(config_dir)), path))
    for path in files:
        digest.update(_named_content(str(path), path))
    return digest.hexdigest()


def _named_content(name: str, path: Path) -> bytes:
    try:
        content = path.read_bytes()
    except OSError as exc:  # vanished between listing and reading, or not there yet: a change too
        content = f"unreadable: {exc.errno}".encode()
    return name.encode("utf-8") + b"\0" + content + b"\0"


async def watch(
    live: LiveConfig,
    config_dir: Path,
    interval: float,
    also: Sequence[Path] = (),
    seen: str | None = None,
) -> None:
    """Reload whenever the files in ``config_dir`` or the files ``also`` (the key files)
    change (checked every ``interval`` s), until cancelled. A refused configuration is not
    retried until the files change again.

    ``seen``: their `config_digest` when the running configuration was read (else: now)."""
    if seen is None:
        seen = await asyncio.to_thread(config_digest, config_dir, *also)
    while True:
        await asyncio.sleep(interval)
        try:
            current = await asyncio.to_thread(config_digest, config_dir, *also)
        except OSError:
            logger.exception("config.watch_failed", config_dir=str(config_dir))
            continue
        if current != seen:
            seen = current
            await live.reload(actor="watch")
