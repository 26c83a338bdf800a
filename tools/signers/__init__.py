"""Vendor-signed requests and API Gateway events, for the tests, the local demo and the tools."""
