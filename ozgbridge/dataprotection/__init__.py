"""Data protection: content sealed at rest (AES-256-GCM), deleted on schedule, keys that rotate.

`keys` reads and makes data key files, `sealing` encrypts and decrypts stored content,
`startup` decides at process start whether and with which keys to run, `retention` decides what
may be purged when, `purge` and `rewrap` carry those decisions out through the store.
"""
