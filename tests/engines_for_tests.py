"""A minimal real engine for tests and benchmarks; not shipped in the package.

`MemoryEngine` researches a small in-memory list of passages through every stage of the `Engine` protocol: it
asks clarifying questions when told to, splits a question into one sub-question per country it names, searches
by word overlap, keeps the first sentence of each passage as a finding and writes a cited Markdown report.

Tests steer it without sleeping:
- `engine.hold(stage)` returns a `Gate`; every run that reaches that stage waits there until `gate.open()`, and
  `await gate.reached(n)` returns once `n` runs are waiting. Research and later stages are held after something
  was gathered, so a cancelled run has material for its partial report.
- `engine.fail_in = stage` makes that stage raise `engine.failure` (an `OSError` by default);
  `engine.chatter = n` logs `n` routine lines per sub-question (to flood slow subscribers).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from research_nb.core.protocols import StageContext
from research_nb.models.clarification import ClarificationQuestion, ClarificationRequest
from research_nb.models.research import (
    Citation,
    Finding,
    Passage,
    Reference,
    ReportMetadata,
    ReportSection,
    ResearchBrief,
    ResearchReport,
    ResearchStage,
    ResearchState,
    SubQuestion,
)

ENGINE_NAME = "memory"


def _passage(doc: str, n: int, title: str, text: str) -> Passage:
    return Passage(id=f"{doc}#{n}", document_id=doc, title=title, text=text)


PASSAGES: tuple[Passage, ...] = (
    _passage(
        "norway-economy",
        1,
        "Norway — Economy",
        "Norway's economy rests on petroleum and natural gas exports. The state owns large stakes in energy firms.",
    ),
    _passage(
        "norway-economy",
        2,
        "Norway — Economy",
        "Norway saves its oil revenue in a sovereign wealth fund. The fund invests abroad to shield the economy.",
    ),
    _passage(
        "norway-climate",
        1,
        "Norway — Climate",
        "Norway's coastal climate is mild for its latitude. The North Atlantic Current warms the western fjords.",
    ),
    _passage(
        "sweden-economy",
        1,
        "Sweden — Economy",
        "Sweden's economy is export oriented, built on timber, iron ore and engineering. Services employ most people.",
    ),
    _passage(
        "sweden-economy",
        2,
        "Sweden — Economy",
        "Sweden keeps its own currency, the krona. Its central bank is among the oldest in the world.",
    ),
    _passage(
        "sweden-climate",
        1,
        "Sweden — Climate",
        "Sweden's climate is temperate in the south and subarctic in the north. Winters are long and dark.",
    ),
    _passage(
        "finland-economy",
        1,
        "Finland — Economy",
        "Finland's economy relies on forestry, electronics and engineering. It adopted the euro in 1999.",
    ),
)

COUNTRIES = ("Norway", "Sweden", "Finland")
_STOPWORDS = frozenset({"the", "and", "how", "what", "does", "for", "with", "its", "are", "from", "that", "who", "why"})


def _stem(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> set[str]:
    return {_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in _STOPWORDS}


def first_sentence(text: str) -> str:
    return text.split(". ", 1)[0].rstrip(".") + "."


class Gate:
    """Holds runs inside a stage until opened; counts the runs that reached it."""

    def __init__(self) -> None:
        self.arrived = 0
        self._changed = asyncio.Condition()
        self._opened = asyncio.Event()

    def open(self) -> None:
        """Let the waiting runs, and every later one, through."""
        self._opened.set()

    async def reached(self, count: int = 1) -> None:
        """Return once `count` runs have arrived at the gate."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.arrived >= count)

    async def pass_through(self) -> None:
        async with self._changed:
            self.arrived += 1
            self._changed.notify_all()
        await self._opened.wait()


class MemoryEngine:
    """Implements `research_nb.core.protocols.Engine` over `PASSAGES`."""

    name = ENGINE_NAME

    def __init__(
        self, passages: tuple[Passage, ...] = PASSAGES, questions: list[ClarificationQuestion] | None = None
    ) -> None:
        self.passages = passages
        self.questions = questions
        self.fail_in: ResearchStage | None = None
        self.failure: Exception | None = None
        self.chatter = 0
        self.calls: Counter[ResearchStage] = Counter()
        self._gates: dict[ResearchStage, Gate] = {}

    def hold(self, stage: ResearchStage) -> Gate:
        """Make runs wait inside `stage` (replacing an earlier gate for it)."""
        gate = self._gates[stage] = Gate()
        return gate

    async def _checkpoint(self, stage: ResearchStage) -> None:
        await asyncio.sleep(0)  # a real engine awaits I/O in every stage: give cancellation its chance
        if self.fail_in is stage:
            raise self.failure or OSError(f"the corpus file for {stage.value} is unreadable")
        gate = self._gates.get(stage)
        if gate is not None:
            await gate.pass_through()

    def search(self, query: str, k: int, entity: str | None = None) -> list[Passage]:
        """Passages sharing the most words with `query`; only those titled after `entity` when one is given."""
        terms = words(query)
        candidates = [p for p in self.passages if entity is None or entity in p.title]
        scored = [(len(terms & words(p.title + " " + p.text)), p) for p in candidates]
        hits = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: -pair[0])[:k]
        return [p.model_copy(update={"score": float(score)}) for score, p in hits]

    # -- the Engine protocol ----------------------------------------------------------------------------

    async def clarify(self, ctx: StageContext) -> ClarificationRequest | None:
        self.calls[ResearchStage.CLARIFICATION] += 1
        await self._checkpoint(ResearchStage.CLARIFICATION)
        if not self.questions:
            return None
        return ClarificationRequest(questions=[q.model_copy(deep=True) for q in self.questions])

    async def brief(self, ctx: StageContext) -> ResearchBrief:
        self.calls[ResearchStage.BRIEF_GENERATION] += 1
        await self._checkpoint(ResearchStage.BRIEF_GENERATION)
        state = ctx.state
        focus = _answers_as_text(state)
        objective = state.user_query + (f" (focus: {focus})" if focus else "")
        entities = [c for c in COUNTRIES if c.lower() in state.user_query.lower()]
        topic = " ".join(sorted(words(state.user_query) - {c.lower() for c in entities}))
        sub_questions = [
            SubQuestion(
                id=f"sq{i}",
                question=f"{state.user_query} — {entity}" if entity else state.user_query,
                queries=[" ".join(filter(None, [entity, topic, focus]))],
                entity=entity,
            )
            for i, entity in enumerate(entities or [None], start=1)
        ]
        return ResearchBrief(objective=objective, sub_questions=sub_questions, comparison=len(entities) > 1)

    async def research(self, ctx: StageContext) -> None:
        self.calls[ResearchStage.RESEARCH_EXECUTION] += 1
        assert ctx.state.brief is not None
        for sub_question in ctx.state.brief.sub_questions:
            ctx.progress(sub_question, "searching")
            found = 0
            for query in sub_question.queries:
                await asyncio.sleep(0)
                hits = self.search(query, ctx.options.max_search_results, sub_question.entity)
                found += len(ctx.add_passages(hits, sub_question.id))
            for n in range(self.chatter):
                ctx.log(f"{sub_question.id}: looked at candidate {n}")
            ctx.progress(sub_question, "done", found)
            # Held (or failed) after the first sub-question gathered its passages: a partial report has material.
            if sub_question is ctx.state.brief.sub_questions[0]:
                await self._checkpoint(ResearchStage.RESEARCH_EXECUTION)

    async def compress(self, ctx: StageContext) -> list[Finding]:
        self.calls[ResearchStage.COMPRESSION] += 1
        await self._checkpoint(ResearchStage.COMPRESSION)
        return _findings(ctx.state)

    async def report(self, ctx: StageContext) -> ResearchReport:
        self.calls[ResearchStage.REPORT_GENERATION] += 1
        await self._checkpoint(ResearchStage.REPORT_GENERATION)
        return _report(ctx.state, self.name, partial=False)

    def partial_report(self, state: ResearchState) -> ResearchReport | None:
        return _report(state, self.name, partial=True) if state.passages else None


def _answers_as_text(state: ResearchState) -> str:
    if state.clarification is None or state.clarification_response is None:
        return ""
    questions = {q.id: q for q in state.clarification.questions}
    answers = [a.as_text(questions[a.question_id]) for a in state.clarification_response.answers]
    return "; ".join(a for a in answers if a)


def _findings(state: ResearchState) -> list[Finding]:
    return [
        Finding(
            sub_question_id=(p.sub_question_ids or ["sq1"])[0],
            text=first_sentence(p.text),
            passage_ids=[p.id],
            score=p.score,
        )
        for p in state.passages
    ]


def _report(state: ResearchState, engine: str, *, partial: bool) -> ResearchReport:
    """One section per sub-question; each finding cites its passage by number."""
    findings = state.findings or _findings(state)
    numbers: dict[str, int] = {}
    sections: list[ReportSection] = []
    sub_questions = state.brief.sub_questions if state.brief else [SubQuestion(id="sq1", question=state.user_query)]
    for sub_question in sub_questions:
        lines: list[str] = []
        citations: list[Citation] = []
        for finding in (f for f in findings if f.sub_question_id == sub_question.id):
            passage_id = finding.passage_ids[0]
            number = numbers.setdefault(passage_id, len(numbers) + 1)
            lines.append(f"- {finding.text} [{number}]")
            citations.append(Citation(number=number, passage_id=passage_id, quote=finding.text))
        if lines:
            sections.append(
                ReportSection(title=sub_question.entity or "Findings", content="\n".join(lines), citations=citations)
            )
    references = []
    for passage_id, number in numbers.items():
        passage = state.passage(passage_id)
        assert passage is not None
        references.append(
            Reference(number=number, passage_id=passage_id, source_id=passage.document_id, title=passage.title)
        )
    title = ("Partial report: " if partial else "") + state.user_query
    body = "\n\n".join(f"## {s.title}\n{s.content}" for s in sections)
    sources = "\n".join(f"{r.number}. {r.title}" for r in references)
    return ResearchReport(
        title=title,
        executive_summary=f"{len(findings)} findings from {len(state.sources)} sources.",
        methodology="Word-overlap search over an in-memory list of passages.",
        sections=sections,
        conclusion="Partial: the run stopped early." if partial else "See the sections above.",
        references=references,
        metadata=ReportMetadata(engine=engine, partial=partial, sources_cited=len(references)),
        markdown=f"# {title}\n\n{body}\n\n## Sources\n{sources}\n",
    )
