"""ozgbridge — durable routing and delivery of OZG online applications."""

__version__ = "0.1.0"
