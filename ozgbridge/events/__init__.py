"""Events to the portal: what became of the applications a portal key submitted.

`model` defines the events and their bodies, `ozgbridge.store.outbox` keeps them durably,
`sender` sends them over the portal events transport (`ozgbridge.event_transport`) and
`dispatcher` runs the sending beside the worker.
"""
