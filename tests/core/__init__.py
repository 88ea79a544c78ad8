"""Tests of the research core: models, event bus, workflow, task manager."""
