"""Implementations of `SearchProvider`: local corpora and the built-in ones."""
