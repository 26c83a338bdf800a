"""Inbound: one module per request source (verify -> read -> what it asks), the webhook pipeline
they share, and the raw request, its signatures and its JSON."""
