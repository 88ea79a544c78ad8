"""Implementations of the `Engine` protocol, registered by name through entry points."""
