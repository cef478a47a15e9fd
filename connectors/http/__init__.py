"""HTTP: POST each application to the back-end's URL, signed the Standard Webhooks way.

Every request carries ``webhook-id`` and ``Idempotency-Key`` (both the delivery id, the same on
every attempt, so the back-end can drop duplicates), ``webhook-timestamp`` and, with a
``signing_secret``, ``webhook-signature`` over the exact body bytes sent. The body is either one
JSON document (``envelope.to_json_document()``, contents base64) or ``multipart/form-data`` with the
parts ``envelope`` (manifest JSON), ``data`` (form data) and one ``attachment`` part per attachment,
in manifest order.

What an answer means is decided in one overridable method, `HttpConnector.classify_response`,
which gets an `HttpAnswer`. The requests go out over aiohttp (`connectors.http.transport`), through
the proxy the environment names (`connectors.http.proxy`).
"""

from connectors.http.answer import HttpAnswer
from connectors.http.connector import HttpConnector, parse_retry_after
from connectors.http.options import HttpOptions

__all__ = ["HttpAnswer", "HttpConnector", "HttpOptions", "parse_retry_after"]
