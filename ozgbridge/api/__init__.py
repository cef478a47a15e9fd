"""The HTTP API: submission, status, probes and the OpenAPI document (see `create_app`)."""

from ozgbridge.api.app import create_app

__all__ = ["create_app"]
