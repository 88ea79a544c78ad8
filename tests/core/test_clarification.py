"""Clarifying questions: pause, answer (or skip), resume to the end; wrong answers are listed, nothing lost."""

import pytest

from engines_for_tests import MemoryEngine
from research_nb.core.errors import ClarificationError, InvalidStateError
from research_nb.core.events import (
    ClarificationRequested,
    ResearchEvent,
    RunFinished,
    RunPaused,
    RunStarted,
    StageFinished,
    Subscription,
)
from research_nb.core.workflow import ResearchWorkflow
from research_nb.models.clarification import (
    ChoiceSelection,
    ClarificationAnswer,
    ClarificationChoice,
    ClarificationQuestion,
    ClarificationResponse,
)
from research_nb.models.research import ResearchOptions, ResearchStage

QUESTION = "How do Norway and Sweden differ?"

ASPECT = ClarificationQuestion(
    id="aspect",
    question="Which aspect should the comparison cover?",
    is_required=True,
    question_type="choice",
    choices=[
        ClarificationChoice(id="economy", label="economy"),
        ClarificationChoice(id="climate", label="climate"),
        ClarificationChoice(id="other", label="Other", is_other=True, requires_details=True),
    ],
)
YEARS = ClarificationQuestion(id="years", question="Which years?", order=1)


async def _read_all(subscription: Subscription) -> list[ResearchEvent]:
    return [event async for event in subscription]


async def test_a_paused_run_resumes_with_the_answers_to_completion(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    engine.questions = [ASPECT, YEARS]
    follower = flow.events.subscribe("ask")

    state = await flow.run(QUESTION, request_id="ask", options=options)

    assert state.current_stage is ResearchStage.CLARIFICATION and state.awaiting_clarification
    assert not state.is_finished and state.brief is None
    assert state.clarification is not None and [q.id for q in state.clarification.questions] == ["aspect", "years"]
    paused = flow.events.history("ask")
    assert isinstance(paused[-2], ClarificationRequested) and paused[-2].clarification == state.clarification
    assert isinstance(paused[-1], RunPaused) and not flow.events.is_finished("ask")
    with pytest.raises(InvalidStateError, match="waiting for answers to its clarifying questions"):
        await flow.resume_research(state)

    answers = ClarificationResponse(
        request_id=state.clarification.id,
        answers=[ClarificationAnswer(question_id="aspect", selection=ChoiceSelection(id="climate"))],
    )
    assert flow.answer_clarification("ask", answers) is state
    resumed_events: list[ResearchEvent] = []
    await flow.resume_research(state, stream_callback=resumed_events.append)

    assert state.current_stage is ResearchStage.COMPLETED
    assert state.brief is not None and state.brief.objective == f"{QUESTION} (focus: climate)"
    assert all("climate" in sq.queries[0] for sq in state.brief.sub_questions)
    assert engine.calls[ResearchStage.CLARIFICATION] == 1  # the questions were not asked again
    # The resumed leg streams its own events: it restarts at the clarification stage, answered.
    assert isinstance(resumed_events[0], RunStarted) and resumed_events[0].resumed
    first_finished = next(e for e in resumed_events if isinstance(e, StageFinished))
    assert (first_finished.stage, first_finished.summary) == (ResearchStage.CLARIFICATION, "answers received")
    # One subscriber follows the run across the pause, to the final event.
    followed = await _read_all(follower)
    assert followed == flow.events.history("ask")
    assert any(isinstance(e, RunPaused) for e in followed) and isinstance(followed[-1], RunFinished)


async def test_skipping_optional_questions_goes_on(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    engine.questions = [YEARS]
    state = await flow.run(QUESTION, request_id="skip", options=options)
    assert state.awaiting_clarification

    flow.answer_clarification("skip", None)
    await flow.resume_research(state)

    assert state.current_stage is ResearchStage.COMPLETED
    assert state.clarification_response is not None and state.clarification_response.answers == []
    assert state.brief is not None and state.brief.objective == QUESTION


async def test_wrong_answers_are_refused_with_every_problem_listed(
    flow: ResearchWorkflow, engine: MemoryEngine, options: ResearchOptions
) -> None:
    engine.questions = [ASPECT, YEARS]
    state = await flow.run(QUESTION, request_id="wrong", options=options)
    assert state.clarification is not None
    clarification_id = state.clarification.id

    wrong = ClarificationResponse(
        request_id="not-this-one",
        answers=[
            ClarificationAnswer(question_id="aspect", selection=ChoiceSelection(id="weather")),
            ClarificationAnswer(question_id="years", selection=ChoiceSelection(id="2020")),
            ClarificationAnswer(question_id="ghost", text="boo"),
        ],
    )
    with pytest.raises(ClarificationError) as raised:
        flow.answer_clarification("wrong", wrong)

    assert raised.value.problems == [
        f"answers are for clarification 'not-this-one', not {clarification_id!r}",
        "question 'aspect' has no choice 'weather'",
        "question 'years' takes text, not a selection",
        "unknown question id 'ghost'",
    ]
    assert str(raised.value).startswith("the answers do not fit the questions: answers are for clarification")

    missing = ClarificationResponse(
        request_id=clarification_id,
        answers=[ClarificationAnswer(question_id="aspect", selection=ChoiceSelection(id="other"))],
    )
    with pytest.raises(ClarificationError, match="choice 'other' of question 'aspect' needs details"):
        flow.answer_clarification("wrong", missing)
    empty = ClarificationResponse(request_id=clarification_id, answers=[])
    with pytest.raises(ClarificationError, match="question 'aspect' is required"):
        flow.answer_clarification("wrong", empty)

    # Nothing was lost: the run still waits, and a fitting answer lets it finish.
    assert state.awaiting_clarification and state.clarification_response is None
    details = ChoiceSelection(id="other", details="economy")
    fitting = ClarificationResponse(
        request_id=clarification_id, answers=[ClarificationAnswer(question_id="aspect", selection=details)]
    )
    flow.answer_clarification("wrong", fitting)
    await flow.resume_research(state)
    assert state.current_stage is ResearchStage.COMPLETED
    assert state.brief is not None and state.brief.objective.endswith("(focus: Other economy)")


async def test_options_can_turn_clarification_off(flow: ResearchWorkflow, engine: MemoryEngine) -> None:
    engine.questions = [ASPECT]
    state = await flow.run(QUESTION, options=ResearchOptions(engine="memory", clarify=False))

    assert state.current_stage is ResearchStage.COMPLETED and state.clarification is None
    assert engine.calls[ResearchStage.CLARIFICATION] == 0
