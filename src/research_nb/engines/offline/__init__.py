"""The offline engine: deterministic, extractive research with no keys and no network (see `_engine`).

Its question analysis is public for other engines (the llm engine's small-model mode plans and retrieves with it):
`knowledge_of` reads a corpus once, `plan_brief` reads a question into a plan and its sub-questions, `retrieve`
fetches exactly the passages that decide a planned question, `composed_answer` composes its cited answer.
"""

from research_nb.core.protocols import StageContext
from research_nb.engines._report import AnswerBlock
from research_nb.engines.offline._engine import OfflineEngine, _brief, prebuild, question_of
from research_nb.engines.offline._knowledge import Knowledge
from research_nb.engines.offline._structured import STRUCTURED, answer_of, lookup
from research_nb.models.research import QuestionPlan, ResearchBrief, ResearchState
from research_nb.sources.corpus import Corpus

__all__ = [
    "Knowledge",
    "OfflineEngine",
    "composed_answer",
    "is_structured",
    "knowledge_of",
    "plan_brief",
    "prebuild",
    "question_of",
    "retrieve",
]


def knowledge_of(corpus: Corpus) -> Knowledge:
    """What the question analysis knows of `corpus` (its names, records and fields); build once and keep."""
    return Knowledge.of(corpus)


def plan_brief(question: str, knowledge: Knowledge) -> ResearchBrief:
    """The offline engine's brief for `question`, with its plan (`brief.plan`)."""
    return _brief(question, knowledge)


def is_structured(plan: QuestionPlan | None) -> bool:
    """Whether the corpus's records decide the planned question (a fact, a figure, a comparison, a ranking ...)."""
    return plan is not None and plan.kind in STRUCTURED


def retrieve(ctx: StageContext, corpus: Corpus, knowledge: Knowledge, brief: ResearchBrief) -> bool:
    """Record the passages that decide the brief's planned question under its sub-questions; False when the plan
    is not structured or the corpus has none of them."""
    plan = brief.plan
    return plan is not None and is_structured(plan) and lookup(ctx, corpus, knowledge, plan, brief)


def composed_answer(state: ResearchState, knowledge: Knowledge) -> AnswerBlock | None:
    """The answer the offline engine composes from the run's passages for a structured plan (None: undecided)."""
    plan = state.brief.plan if state.brief else None
    return answer_of(state, knowledge) if is_structured(plan) else None
