"""An example ozgbridge connector package: the ``zipupload`` kind (see docs/connectors.md)."""

from ozgbridge_connector_example.connector import ZipUploadConnector, ZipUploadOptions

__all__ = ["ZipUploadConnector", "ZipUploadOptions"]
