"""Engine-agnostic orchestration: events, workflow, task manager. Never imports a front or a concrete engine."""
