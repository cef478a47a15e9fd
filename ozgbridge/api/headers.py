"""Headers every answer carries, and the base of the links answers contain.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on every answer (the
  dashboard's pages keep their own ``same-origin``: see ozgbridge/ui/pages.py for why);
- ``Cache-Control: no-store`` on every answer except the public OpenAPI document: statuses,
  reports, problems (which name ids) — nothing of it belongs in a shared or browser cache.
- Links are built from ``OZGBRIDGE_PUBLIC_URL``, or are relative (``/v1/…``) when it is unset.
  Never from the request's ``Host``: a client chooses that header, and what it chose would come
  back in ``Location`` and ``links`` (host header injection, cache poisoning behind a proxy).
"""

from __future__ import annotations

from aiohttp import web

from ozgbridge.settings import Settings

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# Public and the same for everyone: may be cached.
_CACHEABLE_PATHS = frozenset({"/v1/openapi.json"})


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if request.path not in _CACHEABLE_PATHS:
        headers.setdefault("Cache-Control", "no-store")


def setup_headers(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)


def link_base(settings: Settings) -> str:
    """What links start with: the public URL without its trailing slash, or nothing (relative)."""
    return settings.public_url.rstrip("/") if settings.public_url else ""
