"""FIT-Connect: deliver applications to FIT-Connect destinations, and receive from them.

- ``fitconnect`` connector (sender): each envelope becomes one end-to-end encrypted submission
  via the Submission API v2 (`FitConnectConnector`).
- status: the case event log's Security Event Tokens, verified, become status history
  (`connectors.fitconnect.events`).
- ``fitconnect`` intake (subscriber): submissions to configured destinations are fetched,
  decrypted, checked, stored and routed like portal submissions (`connectors.fitconnect.intake`).
"""

from connectors.fitconnect.connector import FitConnectConnector
from connectors.fitconnect.options import FitConnectOptions

__all__ = ["FitConnectConnector", "FitConnectOptions"]
