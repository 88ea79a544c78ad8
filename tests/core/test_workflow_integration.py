"""The seed's Step 7 `test_workflow_integration.py`, on the real import paths."""

from research_nb.core.workflow import ResearchWorkflow, workflow


def test_workflow_singleton_exists() -> None:
    assert workflow is not None
    assert isinstance(workflow, ResearchWorkflow)


def test_workflow_singleton_is_singleton() -> None:
    from research_nb.core.workflow import workflow as workflow2

    assert workflow is workflow2


def test_workflow_has_correct_methods() -> None:
    assert callable(workflow.run)
    assert callable(workflow.resume_research)
    # The seed's API called a method that never existed.
    assert not hasattr(workflow, "execute_research")
