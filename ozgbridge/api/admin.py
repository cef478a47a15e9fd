"""``POST /v1/admin/reload`` (role operator): read the configuration directory and the data key
file again, now.

Reloads this process, exactly as SIGHUP does (`ozgbridge.live.LiveConfig.reload`): the new
configuration is checked fully and swapped in, or refused with every problem listed while the
running configuration stays. In a group started with ``ozgbridge api --processes N`` a successful
reload then has the supervisor send SIGHUP to the group's other processes, which reload (and
audit) by themselves; the answer describes this process's reload. Separate processes behind a
load balancer each need their own reload; see the README ("Changing the configuration").
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from ozgbridge import audit
from ozgbridge.api.auth import authenticate
from ozgbridge.api.problems import Problem
from ozgbridge.api.schemas_out import FieldError
from ozgbridge.api.state import LIVE, RELOAD_OTHERS, REPOSITORY, current_deployment
from ozgbridge.domain import CamelModel
from ozgbridge.errors import ConfigProblem
from ozgbridge.live import ReloadUnavailable
from ozgbridge.tenants import Role

TYPE_CONFIG_INVALID = "urn:ozgbridge:problem:config-invalid"


class ConfigProblemOut(CamelModel):
    """One problem of a configuration, located in its file."""

    file: str
    line: int | None = None
    field: str = Field(description="path inside the file, e.g. routes[0].timeout")
    message: str
    severity: str = Field(description="error or warning")

    @classmethod
    def of(cls, problem: ConfigProblem) -> ConfigProblemOut:
        return cls(
            file=problem.file,
            line=problem.line,
            field=problem.field,
            message=problem.message,
            severity=problem.severity,
        )


class ReloadOut(CamelModel):
    """The configuration this process runs with after a successful reload."""

    status: str = Field(description="always 'reloaded'")
    fingerprint: str = Field(description="SHA-256 of the configuration now running")
    previous_fingerprint: str
    changed: bool = Field(
        description="false when the configuration and the key files say what they said before"
    )
    rotated: list[str] = Field(
        description="the key files whose keys the reload swapped in: 'data_keys' (a new "
        "sealing key or key list), 'audit_key' (a new chaining key or key list); empty when "
        "they are as they were"
    )
    tenants: int
    routes: int
    keys: int
    sealing_key: str | None = Field(
        description="id of the data key that seals new content now (a reload also reads the "
        "data key file); null without data keys"
    )
    chaining_key: str | None = Field(
        description="id of the audit key that chains new audit events now (a reload also reads "
        "the audit key file); null for a process without audit keys"
    )
    warnings: list[ConfigProblemOut]


async def reload(request: web.Request) -> web.StreamResponse:
    key = authenticate(request, current_deployment(request))
    if key.role is not Role.OPERATOR:
        raise Problem(403, f"role {key.role} may not reload the configuration")
    try:
        result = await request.app[LIVE].reload(actor=f"key:{key.id}")
    except ReloadUnavailable as exc:
        raise Problem(503, str(exc)) from None
    if not result.ok:
        first = result.problems[0] if result.problems else None
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise Problem(
            422,
            f"configuration refused, the running one stays: {first}{more}",
            type=TYPE_CONFIG_INVALID,
            title="Invalid configuration",
            errors=[
                FieldError(
                    field=f"{p.file}:{p.line}: {p.field}" if p.line else f"{p.file}: {p.field}",
                    message=p.message,
                )
                for p in result.problems
            ],
        )
    others = request.app.get(RELOAD_OTHERS)
    if others is not None:
        others()
    answer = ReloadOut(
        status="reloaded",
        fingerprint=result.fingerprint,
        previous_fingerprint=result.previous_fingerprint,
        changed=result.changed,
        rotated=list(result.rotated),
        tenants=result.counts["tenants"],
        routes=result.counts["routes"],
        keys=result.counts["keys"],
        sealing_key=request.app[REPOSITORY].sealer.key_id,
        chaining_key=chaining.primary.id if (chaining := audit.chaining_keys()) else None,
        warnings=[ConfigProblemOut.of(w) for w in result.warnings],
    )
    return web.json_response(answer.model_dump(mode="json", by_alias=True))
