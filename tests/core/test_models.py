"""The run as data: stages, transitions, and a JSON round trip that loses nothing."""

from datetime import datetime

from engines_for_tests import MemoryEngine
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.api_models import APIKeys
from research_nb.models.clarification import (
    ChoiceSelection,
    ClarificationAnswer,
    ClarificationChoice,
    ClarificationQuestion,
    ClarificationResponse,
)
from research_nb.models.research import ResearchOptions, ResearchStage, ResearchState


def test_stages_are_the_seeds() -> None:
    assert [stage.name for stage in ResearchStage] == [
        "PENDING",
        "CLARIFICATION",
        "BRIEF_GENERATION",
        "RESEARCH_EXECUTION",
        "COMPRESSION",
        "REPORT_GENERATION",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
    ]
    assert [s for s in ResearchStage if s.is_terminal] == [
        ResearchStage.COMPLETED,
        ResearchStage.FAILED,
        ResearchStage.CANCELLED,
    ]


def test_transitions() -> None:
    state = ResearchState(user_query="q")
    assert (state.current_stage, state.started_at) == (ResearchStage.PENDING, None)

    state.start_research()
    assert state.current_stage is ResearchStage.CLARIFICATION and state.started_at is not None

    state.set_error("the index is corrupt")
    assert (state.current_stage, state.error_message, state.is_finished) == (
        ResearchStage.FAILED,
        "the index is corrupt",
        True,
    )
    assert state.completed_at is not None and state.completed_at.tzinfo is not None

    state.finish_stage(ResearchStage.CLARIFICATION)
    state.reopen()
    assert (state.current_stage, state.error_message, state.completed_at) == (
        ResearchStage.BRIEF_GENERATION,
        None,
        None,
    )

    state.cancel("Stop")
    assert (state.current_stage, state.cancel_reason) == (ResearchStage.CANCELLED, "Stop")


async def test_a_finished_state_survives_a_json_round_trip_with_nothing_lost(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    engine.questions = [
        ClarificationQuestion(
            id="aspect",
            question="Which aspect?",
            question_type="choice",
            choices=[ClarificationChoice(id="economy", label="economy")],
        )
    ]
    secret = "sk-never-saved-0123456789"
    state = await flow.run(
        "How do the economies of Norway and Sweden differ?",
        api_keys=APIKeys(openai=secret),
        conversation_history=[{"role": "user", "content": "Earlier question"}],
        request_id="saved",
        options=options,
    )
    assert state.clarification is not None
    flow.answer_clarification(
        "saved",
        ClarificationResponse(
            request_id=state.clarification.id,
            answers=[ClarificationAnswer(question_id="aspect", selection=ChoiceSelection(id="economy"))],
        ),
    )
    await flow.resume_research(state, api_keys=APIKeys(openai=secret))
    state.metadata = {"notebook": "analysis.ipynb", "cell": 3, "tags": ["economy", None], "nested": {"ratio": 0.5}}
    state.warnings.append("one file was unreadable")
    # Everything worth saving is there, so the comparison below means something.
    assert state.current_stage is ResearchStage.COMPLETED
    assert state.brief and state.passages and state.findings and state.sources and state.clarification_response
    assert state.report is not None and state.report.sections and state.report.references
    assert state.report.citations()

    saved = state.model_dump_json()
    restored = ResearchState.model_validate_json(saved)

    assert restored == state
    assert restored.model_dump_json() == saved
    assert secret not in saved  # keys are used by a run, never stored with it
    stamps: list[datetime | None] = [
        restored.created_at,
        restored.started_at,
        restored.updated_at,
        restored.completed_at,
        restored.report.metadata.created_at if restored.report else None,
        restored.clarification.created_at if restored.clarification else None,
    ]
    assert all(stamp is not None and stamp.utcoffset() is not None for stamp in stamps)
