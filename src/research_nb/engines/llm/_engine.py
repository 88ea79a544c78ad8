"""The LLM engine: pydantic-ai agents plan, take notes and write, over passages retrieved from the web and local
files; every claim they write is checked against the passage it cites before it is shown.

- clarify: a model decides whether the question needs clarifying questions (at most three);
- brief: sub-questions (at most eight) with search queries;
- research: for every sub-question at once (bounded by `max_concurrency`): search the corpus and the web, then a
  model takes notes — claims, each citing a passage id and quoting it — and may ask for follow-up searches
  (`max_hops` rounds). Notes are verified as they come (`_verify`); a failed sub-question is a warning;
- compress: a model keeps the notes worth reporting and rates them (it cannot add or reword any);
- report: a model writes the summary and sections, again as cited, quoted claims, verified once more; what fails
  is left out and counted. Without a model answer (budget reached, failure) the verified notes are the report.

A small model (said by `small_model=`, or a local llama.cpp server's model under 4B parameters, `_server`) is
asked only what it does well, choosing. The engine plans the research itself with the offline engine's question
analysis: a question the corpus's records decide (a fact, a figure, a comparison, a ranking, a trend, a yes/no
test) gets exactly the passages that hold the asked field, and its answer is composed from them by the offline
composer (`_answer`) and verified; any other question gets one sub-question per entity it names, searched with
its own words. The model is shown each passage's few sentences that matter, numbered, and picks those that
answer; each pick becomes a claim in the passage's own words, verified like any other — one short call per
sub-question, no clarify, brief, compress or report call. A run in which every sub-question failed (and that has
no composed answer) fails, with the first cause.

The model is a pydantic-ai model string per run (`model=`), else `RESEARCH_NB_MODEL`. Every model call is bounded,
retried with backoff on rate limits and transient errors, metered (tokens and estimated cost, per stage, in
`state.metadata["usage"]` and as `usage` events), stopped by a budget, and recorded to or replayed from a
cassette (`record_to=` / `replay_from=`): a replay needs no key and no network and writes the same report.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_ai.models import Model

from research_nb.core.cassette import Cassette, check_cassette_paths
from research_nb.core.errors import EngineError
from research_nb.core.protocols import StageContext
from research_nb.core.retry import RetryPolicy
from research_nb.engines._report import Quote
from research_nb.engines.llm._agents import (
    MAX_SUB_QUESTIONS,
    agents,
    brief_prompt,
    claims_from_picks,
    clarify_prompt,
    notes_prompt,
    numbered_sentences,
    picks_prompt,
    picks_schema,
    report_prompt,
    select_prompt,
)
from research_nb.engines.llm._answer import answer_of, set_answer, verified_statements
from research_nb.engines.llm._models import check_local_model
from research_nb.engines.llm._plan import engine_brief, named_entities
from research_nb.engines.llm._render import (
    DOCUMENTS,
    SEARCHED,
    notes_of,
    render,
    reset_unsupported,
    set_notes,
    strip_links,
    verified_findings,
)
from research_nb.engines.llm._session import (
    EngineConfig,
    Found,
    ModelCallFailed,
    RunMemory,
    Session,
    corpus_builtins,
    model_spec,
    open_session,
)
from research_nb.engines.llm._usage import BudgetExhausted
from research_nb.engines.llm._verify import ClaimContext, Verdict, verify
from research_nb.engines.offline import (
    Knowledge,
    composed_answer,
    is_structured,
    knowledge_of,
    plan_brief,
    question_of,
    retrieve,
)
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion, ClarificationRequest
from research_nb.models.research import (
    Finding,
    Passage,
    ResearchBrief,
    ResearchOptions,
    ResearchReport,
    ResearchStage,
    ResearchState,
    SubQuestion,
)
from research_nb.sources._http import TransportFactory
from research_nb.sources.corpus import Corpus
from research_nb.sources.web import WEB_RETRY

_REMEMBERED_RUNS = 16
_FOLLOW_UPS_PER_HOP = 2
_SMALL_MODEL_PASSAGES = 4  # passages a small model reads per sub-question
_SMALL_MODEL_SUB_QUESTIONS = 4
_CACHED_KNOWLEDGE = 8


class LLMEngine:
    name = "llm"

    def __init__(
        self,
        *,
        model: Model | None = None,
        http_transport: TransportFactory | None = None,
        retry: RetryPolicy | None = None,
        web_retry: RetryPolicy = WEB_RETRY,
        cache_dir: Path | None = None,
        environ: dict[str, str] | None = None,
        dotenv: dict[str, str | None] | None = None,
    ) -> None:
        """All arguments are for tests and embedding: `model` replaces the one named by the run's options,
        `http_transport` the network (an `httpx2.MockTransport`), `environ`/`dotenv` where keys are read."""
        self._config = EngineConfig(
            model, http_transport, retry or EngineConfig.retry, web_retry, cache_dir, environ, dotenv
        )
        self._runs: OrderedDict[str, RunMemory] = OrderedDict()
        self._knowledge: dict[int, tuple[Corpus, Knowledge]] = {}

    def check_options(self, options: ResearchOptions) -> None:
        check_cassette_paths(options.record_to, options.replay_from)
        spec = model_spec(options, self._config)
        if options.local_only and self._config.model is None and not options.replay_from:
            check_local_model(spec, options.base_url)
        web = [] if options.local_only else ["wikipedia"] if options.web is None else options.web
        Corpus.check(options.sources, corpus_builtins(options, web))

    # -- stages -------------------------------------------------------------------------------------------------

    async def clarify(self, ctx: StageContext) -> ClarificationRequest | None:
        async with self._session(ctx, ResearchStage.CLARIFICATION) as session:
            if session.profile.small:
                return None  # a small model's judgement of vagueness is noise; it researches the question as asked
            try:
                draft = await session.ask(agents().clarify, clarify_prompt(ctx.state.user_query))
            except BudgetExhausted:
                return None
        questions = [q for q in draft.questions if q.question.strip()][:3]
        if not draft.needs_clarification or not questions:
            return None
        return ClarificationRequest(
            context=draft.reason or None,
            questions=[
                ClarificationQuestion(
                    id=f"q{n}",
                    question=q.question,
                    question_type="choice" if q.choices else "text",
                    choices=[ClarificationChoice(id=f"c{m}", label=label) for m, label in enumerate(q.choices[:8], 1)]
                    or None,
                    order=n,
                )
                for n, q in enumerate(questions, start=1)
            ],
        )

    async def brief(self, ctx: StageContext) -> ResearchBrief:
        question = question_of(ctx.state)
        async with self._session(ctx, ResearchStage.BRIEF_GENERATION) as session:
            if session.profile.small:
                await session.open_search(self._config.cache_dir)
                return await self._small_model_brief(ctx, session, question)
            try:
                draft = await session.ask(agents().brief, brief_prompt(question))
            except BudgetExhausted as exc:
                ctx.warn(f"{exc}: researching the question as it is, without a plan")
                return ResearchBrief(
                    objective=question, sub_questions=[SubQuestion(id="sq-1", question=question, queries=[question])]
                )
        sub_questions: list[SubQuestion] = []
        for draft_sq in draft.sub_questions[:MAX_SUB_QUESTIONS]:
            text = strip_links(draft_sq.question)
            if not text:
                continue
            queries = [strip_links(q) for q in draft_sq.search_queries if strip_links(q)][:3] or [text]
            entity = strip_links(draft_sq.entity or "") or None
            sub_questions.append(
                SubQuestion(id=f"sq-{len(sub_questions) + 1}", question=text, queries=queries, entity=entity)
            )
        if not sub_questions:
            sub_questions = [SubQuestion(id="sq-1", question=question, queries=[question])]
        return ResearchBrief(
            objective=strip_links(draft.objective) or question, sub_questions=sub_questions, comparison=draft.comparison
        )

    async def research(self, ctx: StageContext) -> None:
        state = ctx.state
        set_notes(state, [])
        reset_unsupported(state, "research")
        brief = state.brief or ResearchBrief(
            objective=state.user_query, sub_questions=[SubQuestion(id="sq-1", question=state.user_query)]
        )
        question = question_of(state)
        set_answer(state, [])
        async with self._session(ctx, ResearchStage.RESEARCH_EXECUTION, search=True) as session:
            state.metadata[SEARCHED] = list(session.scope())
            state.metadata[DOCUMENTS] = session.documents()
            given = await self._planned_passages(session, brief) if session.profile.small else {}
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._investigate(session, question, sq, given.get(sq.id)))
                    for sq in brief.sub_questions
                ]
                for sq in brief.sub_questions:
                    ctx.progress(sq, "searching")
                outcomes = []
                for sq, task in zip(brief.sub_questions, tasks, strict=True):  # recorded in order: deterministic
                    outcomes.append(await task)
                    self._record(ctx, sq, outcomes[-1])
            failed = [o for o in outcomes if o.failed]  # a model or search error, not an empty search
            if outcomes and len(failed) == len(outcomes) and not notes_of(state) and not answer_of(state):
                cause = failed[0].problem
                raise EngineError(f"every sub-question failed ({len(failed)} of {len(outcomes)}); the first: {cause}")
            if session.meter.reached:
                ctx.warn(f"{session.meter.reached}: no new model call was started after that")
            if session.meter.money_unenforceable():
                ctx.warn(f"no price is known for {session.spec}: the money budget cannot be enforced (tokens count)")

    async def compress(self, ctx: StageContext) -> list[Finding]:
        state = ctx.state
        notes = notes_of(state)
        if len(notes) <= 1:
            return notes
        subs = state.brief.sub_questions if state.brief else []
        async with self._session(ctx, ResearchStage.COMPRESSION) as session:
            if session.meter.reached or session.profile.small:
                return notes
            try:
                draft = await session.ask(agents().select, select_prompt(question_of(state), subs, notes))
            except BudgetExhausted:
                return notes
            except ModelCallFailed as exc:
                ctx.warn(f"{exc}; keeping every verified note")
                return notes
        kept: dict[int, int] = {}
        for ranked in draft.keep:
            if 1 <= ranked.note <= len(notes):
                kept.setdefault(ranked.note, ranked.importance)
        if not kept:
            ctx.warn("the model kept none of the notes; keeping them all")
            return notes
        order = {sq.id: n for n, sq in enumerate(subs)}
        chosen = [notes[n - 1].model_copy(update={"score": float(importance)}) for n, importance in kept.items()]
        return sorted(chosen, key=lambda f: (order.get(f.sub_question_id, len(order)), -f.score))

    async def report(self, ctx: StageContext) -> ResearchReport:
        state = ctx.state
        reset_unsupported(state, "report")
        findings = state.findings
        answer = answer_of(state)
        subs = state.brief.sub_questions if state.brief else []
        try:
            if not findings and not answer:
                return render(state, [])
            async with self._session(ctx, ResearchStage.REPORT_GENERATION) as session:
                if session.meter.reached or session.profile.small:
                    return render(state, findings, answer=answer)
                names = session.entities()
                cited = list(dict.fromkeys(f.passage_ids[0] for f in findings))
                passages = [p for p in (state.passage(i) for i in cited) if p is not None]
                try:
                    prompt = report_prompt(question_of(state), subs, findings, passages)
                    draft = await session.ask(agents().report, prompt)
                except BudgetExhausted:
                    return render(state, findings)
                except ModelCallFailed as exc:
                    ctx.warn(f"{exc}; the report shows the verified notes instead")
                    return render(state, findings)
            retrieved = {p.id: p for p in state.passages}
            seen: set[str] = set()
            anywhere = ClaimContext(entities=names)
            verdicts = [verify(c, retrieved, anywhere) for c in draft.summary]
            summary = verified_findings(verdicts, None, "report", state, seen)
            known = {sq.id: sq for sq in subs}
            sections: list[Finding] = []
            for section in draft.sections:
                sq = known.get(section.sub_question_id)
                context = ClaimContext.under(sq, names) if sq else anywhere
                verdicts = [verify(c, retrieved, context) for c in section.claims]
                sections += verified_findings(verdicts, sq.id if sq else None, "report", state, seen)
            if not summary and not sections:
                ctx.warn("no claim of the model's report could be verified; the report shows the verified notes")
                return render(state, findings)
            return render(state, sections, summary=summary[:5] or None)
        finally:
            self._runs.pop(state.request_id, None)

    def partial_report(self, state: ResearchState) -> ResearchReport | None:
        self._runs.pop(state.request_id, None)
        findings = state.findings or notes_of(state)
        if not findings and not state.passages:
            return None
        stage = state.current_stage.value.replace("_", " ")
        note = f"The run stopped during the {stage} stage; this shows the verified notes it had gathered by then."
        return render(state, findings, answer=answer_of(state), partial_note=note)

    async def _small_model_brief(self, ctx: StageContext, session: Session, question: str) -> ResearchBrief:
        """The offline engine's plan when the corpus's records decide the question; else a sub-question per entity
        the plan (or, without a local corpus, the run's names) finds in it."""
        corpus = session.corpus()
        if corpus is None:
            return engine_brief(question, named_entities(question, session.entities()), _SMALL_MODEL_SUB_QUESTIONS)
        planned = plan_brief(question, await self._knowledge_of(ctx, corpus))
        plan = planned.plan
        if plan is not None:
            ctx.log(f"read as: {plan.describe()}")
        if is_structured(plan):
            return planned
        entities = (plan.entities if plan else []) or named_entities(question, session.entities())
        return engine_brief(question, entities, _SMALL_MODEL_SUB_QUESTIONS).model_copy(update={"plan": plan})

    async def _planned_passages(self, session: Session, brief: ResearchBrief) -> dict[str, list[Passage]]:
        """For a structured plan: retrieve its passages as the offline engine does, keep the composed answer's
        verified statements, and give each sub-question the passages its model call reads (the answer's first);
        empty when the plan is not structured or the corpus does not hold the field (then the run searches)."""
        ctx, corpus = session.ctx, session.corpus()
        if corpus is None or not is_structured(brief.plan):
            return {}
        knowledge = await self._knowledge_of(ctx, corpus)
        if not retrieve(ctx, corpus, knowledge, brief):
            return {}
        state = ctx.state
        answer = composed_answer(state, knowledge)
        retrieved = {p.id: p for p in state.passages}
        cited: list[str] = []
        if answer is not None:
            kept, refused = verified_statements(answer, retrieved, ClaimContext(entities=session.entities()))
            for verdict in refused:  # the composer's, not the model's: not counted among the model's left out
                ctx.log(f"composed statement not shown: {verdict.claim.text!r} {verdict.problem}")
            set_answer(state, kept)
            cited = [q.passage_id for line in kept for q in line if isinstance(q, Quote)]
        first = {pid: n for n, pid in enumerate(dict.fromkeys(cited))}
        given: dict[str, list[Passage]] = {}
        for sq in brief.sub_questions:
            own = sorted(
                (p for p in state.passages if sq.id in p.sub_question_ids),
                key=lambda p: (first.get(p.id, len(first)), -p.score, p.id),
            )
            if own:
                given[sq.id] = own[:_SMALL_MODEL_PASSAGES]
        return given

    async def _knowledge_of(self, ctx: StageContext, corpus: Corpus) -> Knowledge:
        """The question analysis's knowledge of `corpus` (built once per corpus, in a thread)."""
        cached = self._knowledge.get(id(corpus))
        if cached is None or cached[0] is not corpus:
            cached = self._knowledge[id(corpus)] = (corpus, await ctx.run_blocking(knowledge_of, corpus))
            while len(self._knowledge) > _CACHED_KNOWLEDGE:
                self._knowledge.pop(next(iter(self._knowledge)))
        return cached[1]

    async def _investigate(
        self, session: Session, question: str, sq: SubQuestion, given: list[Passage] | None = None
    ) -> _Outcome:
        """Search (unless the plan's passages are `given`, already recorded), take notes, follow up: everything one
        sub-question needs, without touching the state (the research stage records outcomes in sub-question
        order, so runs are reproducible)."""
        outcome = _Outcome()
        small = session.profile.small
        k = session.ctx.options.max_search_results
        k = min(k, _SMALL_MODEL_PASSAGES) if small else k
        context = ClaimContext.under(sq, session.entities())
        try:
            if given:
                found = Found(passages=given)
                outcome.passages.update((p.id, p) for p in given)
            else:
                found = await session.search(sq.queries or [sq.question], k)
                outcome.add(session, sq, found)
            if not found.passages:
                outcome.problem = "no search result"
                return outcome
            if small:  # the model chooses sentences; the claims are the passages' own words
                numbered = numbered_sentences(sq, found.passages)
                prompt = picks_prompt(question, sq, numbered)
                picks = await session.ask(agents().picks, prompt, schema=picks_schema(len(numbered)))
                claims = claims_from_picks(picks, numbered)
                outcome.verdicts += [verify(claim, outcome.passages, context) for claim in claims]
                return outcome
            draft = await session.ask(agents().notes, notes_prompt(question, sq, found.passages))
            outcome.verdicts += [verify(claim, outcome.passages, context) for claim in draft.claims]
            for _ in range(session.ctx.options.max_hops):
                follow = [q for q in (strip_links(q) for q in draft.follow_up_queries) if q][:_FOLLOW_UPS_PER_HOP]
                if not follow:
                    break
                more = await session.search(follow, k, exclude=set(outcome.passages))
                if not more.passages:
                    break
                outcome.add(session, sq, more)
                known = [v.claim.text for v in outcome.verdicts if v.supported]
                draft = await session.ask(agents().notes, notes_prompt(question, sq, more.passages, known))
                outcome.verdicts += [verify(claim, outcome.passages, context) for claim in draft.claims]
        except BudgetExhausted:
            outcome.budget_reached = True
        except Exception as exc:  # a failed sub-question is a warning, never a failed run
            outcome.problem = session.keys.redact(str(exc) or type(exc).__name__)
            outcome.failed = True
        return outcome

    @staticmethod
    def _record(ctx: StageContext, sq: SubQuestion, outcome: _Outcome) -> None:
        notes = notes_of(ctx.state)
        findings = verified_findings(outcome.verdicts, sq.id, "research", ctx.state, seen={n.text for n in notes})
        set_notes(ctx.state, [*notes, *findings])
        if outcome.problem:
            ctx.warn(f"sub-question {sq.id} ({sq.question}): {outcome.problem}")
        documents = len({p.document_id for p in outcome.passages.values()})
        ctx.progress(sq, "done" if findings else "failed", sources_found=documents)

    # -- helpers ------------------------------------------------------------------------------------------------

    def _session(
        self, ctx: StageContext, stage: ResearchStage, *, search: bool = False
    ) -> AbstractAsyncContextManager[Session]:
        return open_session(ctx, stage.value, self._config, self._memory(ctx.state), search=search)

    def _memory(self, state: ResearchState) -> RunMemory:
        memory = self._runs.get(state.request_id)
        if memory is None:
            options = state.options
            cassette = None
            if options.replay_from:
                cassette = Cassette.replay(Path(options.replay_from).expanduser())
            elif options.record_to:
                # A run resumed after a pause (clarifying questions) adds to what its first leg recorded.
                cassette = Cassette.record(Path(options.record_to).expanduser(), keep=bool(state.completed_stages))
            memory = self._runs[state.request_id] = RunMemory(cassette)
            while len(self._runs) > _REMEMBERED_RUNS:
                self._runs.popitem(last=False)
        return memory


@dataclass
class _Outcome:
    """What one sub-question's research gathered."""

    passages: dict[str, Passage] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    problem: str | None = None
    failed: bool = False  # the problem is an error (a model call that failed), not an empty search
    budget_reached: bool = False

    def add(self, session: Session, sq: SubQuestion, found: Found) -> None:
        """Keep what a search found, and record it in the run at once: a run cancelled while the model reads it
        still has it for its partial report."""
        session.ctx.add_passages(found.passages, sq.id, found.sources.values())
        for passage in found.passages:
            self.passages.setdefault(passage.id, passage)
