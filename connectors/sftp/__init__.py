"""SFTP: each application becomes one folder in a directory on an SFTP server (DMS import drops).

The folder layout, the atomic hand-over (written under a dot-name, renamed into place) and the
re-delivery rule (a complete folder with the same delivery id counts as delivered) are those of
the ``filedrop`` connector, from `connectors.folder_layout`. The server's host key is always
checked against the configured ``known_hosts``. What a failure means is decided in
`connectors.sftp.errors`.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # asyncssh still names DSA types at import time; ozgbridge never uses DSA keys.
    warnings.filterwarnings(
        "ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning
    )
    import asyncssh  # noqa: F401

from connectors.sftp.connector import SftpConnector
from connectors.sftp.options import SftpOptions

__all__ = ["SftpConnector", "SftpOptions"]
