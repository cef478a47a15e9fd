"""Loading ``tenants/*.yaml``: one tenant per file, with the secrets in its route options resolved.

Part of `load_deployment` (`ozgbridge.tenants`), kept apart from putting the deployment together
because each tenant file is read and judged on its own — its YAML, its secrets, its connectors
(`ozgbridge.tenant_connectors`), its model — while the tenants meet each other, the keys and the
outside facts only in the rules run afterwards (`ozgbridge.tenant_rules`,
`ozgbridge.tenant_facts`). Those rules also get what files that fail their own validation
declare (ids, parents), so that one broken file does not cause a cascade of findings elsewhere.
Like the rest of loading it reports every problem it finds, each with file, field and line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from ozgbridge import tenant_connectors
from ozgbridge.configfile import Loc, YamlDocument, read_yaml
from ozgbridge.errors import ConfigProblem
from ozgbridge.secrets import SecretResolver, resolve_options
from ozgbridge.tenant_models import TenantConfig

TENANTS_DIR = "tenants"
# A file that cannot be parsed still probably says which tenant it is; this finds that id.
_ID_LINE = re.compile(r"^id:\s*[\"']?([a-z0-9][a-z0-9-]*)", re.MULTILINE)


@dataclass(frozen=True)
class LoadedTenants:
    """What `load_tenants` found: the valid tenants; the ids and parents that readable files
    declare, valid or not (as (file, value)); the content of every file that is a mapping (for the
    deployment's fingerprint) and the documents of the files read (for locating the findings of
    later rules); the ids that unreadable files may hold, and whether there were any; and every
    problem."""

    tenants: list[TenantConfig]
    declared: list[tuple[Path, str]]
    declared_parents: list[tuple[Path, str]]
    raw: list[Any]
    documents: dict[Path, YamlDocument]
    unreadable_ids: set[str]
    unreadable: bool
    problems: list[ConfigProblem]


def load_tenants(
    config_dir: Path,
    label: PurePosixPath,
    show: Callable[[Path], str],
    resolver: SecretResolver,
    *,
    check_connectors: bool,
) -> LoadedTenants:
    """Read and check the tenant files of ``config_dir``, shown as ``label`` in messages, each
    file as ``show`` names it.

    ``check_connectors=False`` skips looking up connector kinds and validating their options.
    """
    reader = _Reader(config_dir, label, show, resolver, check_connectors=check_connectors)
    tenants = []
    for path in reader.tenant_files():
        tenant = reader.load_tenant(path)
        if tenant is not None:
            tenants.append(tenant)
    return LoadedTenants(
        tenants=tenants,
        declared=reader.declared,
        declared_parents=reader.declared_parents,
        raw=reader.raw,
        documents=reader.documents,
        unreadable_ids=reader.unreadable_ids,
        unreadable=reader.unreadable,
        problems=reader.problems,
    )


class _Reader:
    def __init__(
        self,
        config_dir: Path,
        label: PurePosixPath,
        show: Callable[[Path], str],
        resolver: SecretResolver,
        *,
        check_connectors: bool,
    ):
        self.config_dir = config_dir
        self.label = label
        self.show = show
        self.resolver = resolver
        self.check_connectors = check_connectors
        self.problems: list[ConfigProblem] = []
        self.documents: dict[Path, YamlDocument] = {}
        self.declared: list[tuple[Path, str]] = []
        self.raw: list[Any] = []
        # A broken connector installation is the same for every tenant file: reported once.
        self.registry_broken = False
        # Gathered from the raw files, so that a broken file still has its parent checked.
        self.declared_parents: list[tuple[Path, str]] = []
        # Ids that tenant files which could not be read may hold: names other files use for
        # them are not reported as unknown (that would only repeat the file's own problem).
        self.unreadable_ids: set[str] = set()
        self.unreadable = False

    def tenant_files(self) -> list[Path]:
        directory = self.config_dir / TENANTS_DIR
        if not directory.is_dir():
            self.problems.append(
                ConfigProblem(
                    str(self.label / TENANTS_DIR), "", "missing: one YAML file per tenant"
                )
            )
            return []
        files = []
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix == ".yaml":
                files.append(path)
            elif path.suffix == ".yml":
                self.problems.append(
                    ConfigProblem(self.show(path), "", f"not read: rename it to {path.stem}.yaml")
                )
        if not files:
            self.problems.append(
                ConfigProblem(str(self.label / TENANTS_DIR), "", "holds no tenant files (*.yaml)")
            )
        return files

    def _read(self, path: Path) -> YamlDocument | None:
        document, problems = read_yaml(path, self.show(path))
        self.problems += problems
        if document is not None:
            self.documents[path] = document
        return document

    def load_tenant(self, path: Path) -> TenantConfig | None:
        document = self._read(path)
        if document is None:
            self._unreadable(path)
            return None
        raw = document.data
        if not isinstance(raw, dict):
            self.problems.append(
                document.problem((), "must be a mapping of fields (id:, name:, ags:, routes:, …)")
            )
            self._unreadable(path)
            return None
        self.raw.append(raw)
        if isinstance(raw.get("id"), str):
            self.declared.append((path, raw["id"]))
        if isinstance(raw.get("parent"), str):
            self.declared_parents.append((path, raw["parent"]))
        data, skip = self._resolve_secrets(document, raw)
        if "source" in data:  # a model field, but set by the loader, never by the file
            self.problems.append(document.problem(("source",), "unknown field (set by the loader)"))
            data.pop("source")
        if "ags" not in raw and "ars" not in raw:
            self.problems.append(
                document.problem(("ags",), "the tenant's region is missing: give ags or ars")
            )
        if self.check_connectors:
            checked = tenant_connectors.check_connectors(
                document, data, skip, registry_broken=self.registry_broken, reported=self.problems
            )
            self.problems += checked.problems
            self.registry_broken = checked.registry_broken
        try:
            tenant = TenantConfig.model_validate(data)
        except ValidationError as exc:
            # The region field that was not written is derived; its errors only repeat the other's.
            def unwritten_region(loc: Loc) -> bool:
                return loc in (("ags",), ("ars",)) and loc[0] not in raw

            self.problems += document.validation_problems(exc, skip=unwritten_region)
            return None
        return tenant.model_copy(update={"source": path})

    def _unreadable(self, path: Path) -> None:
        self.unreadable = True
        self.unreadable_ids.add(path.stem)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            self.unreadable_ids.update(_ID_LINE.findall(path.read_text(encoding="utf-8")))

    def _resolve_secrets(
        self, document: YamlDocument, raw: dict[str, Any]
    ) -> tuple[dict[str, Any], set[Loc]]:
        """The tenant data with route options resolved, and the option locations to not judge."""
        data = dict(raw)
        routes = raw.get("routes")
        skip: set[Loc] = set()
        if not isinstance(routes, list):
            return data, skip
        resolved_routes: list[Any] = []
        for index, route in enumerate(routes):
            options = route.get("options") if isinstance(route, dict) else None
            if not isinstance(options, dict):
                resolved_routes.append(route)
                continue
            here: Loc = ("routes", index, "options")
            result = resolve_options(options, self.resolver)
            self.problems += [document.problem((*here, *loc), m) for loc, m in result.problems]
            skip.update((*here, *loc) for loc in result.unjudgeable(self.resolver.resolve))
            resolved_routes.append({**route, "options": result.options})
        data["routes"] = resolved_routes
        return data, skip
