"""SMTP: mail each application to a functional mailbox, optionally S/MIME signed and encrypted.

One message per attempt, over a fresh connection (``starttls`` by default, ``tls``, or ``none``
only with ``allow_insecure``). Its layout is described in `connectors.smtp.message`; the
``Message-ID`` is derived from the delivery id, so a re-delivery is recognisable. What a server's
reply means is decided in `connectors.smtp.replies`.
"""

from connectors.smtp.connector import SmtpConnector
from connectors.smtp.options import SmimeOptions, SmtpOptions

__all__ = ["SmimeOptions", "SmtpConnector", "SmtpOptions"]
