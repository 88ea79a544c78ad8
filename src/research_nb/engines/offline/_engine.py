"""The offline engine: research with no keys and no network, deterministically.

- clarify: a question too vague to research (one generic word) gets one or two concrete questions;
- brief: the question is read into a plan (`_plan`); one the corpus's records decide (a fact, a figure, a
  ranking, a trend, a yes/no test) gets sub-questions from its plan and is retrieved and answered from those
  records (`_structured`); a multi-part one gets a sub-question per clause; any other is split by the entities
  it names: a comparison ("A and B", "A vs B") one sub-question per entity, other questions their own wording
  plus one focused query per named entity;
- research: the queries run concurrently (bounded), then entities that the best passages name — and that the
  corpus has a document for — become follow-up queries, for `max_hops` rounds (multi-hop);
  for a comparison, a data field found for one entity is looked up for the others, so the table lines up;
- compress: sentences scored against each sub-question, near-duplicates dropped, a diverse set kept (MMR);
- report: Markdown whose every sentence is quoted from the passage its citation points at.

The same inputs give a byte-identical report: searches are recorded in sub-question order and every ranking
breaks ties on ids.

Where it runs: each stage runs in the research worker process (`research_nb.core.workers`), which keeps the
corpora open between runs, unless the run's inputs are small enough that a process costs more than it saves
(only the user's own files, under `IN_PROCESS_BELOW_BYTES` in all): those run here, in threads. docs/workers.md
has the measurement behind the threshold. `prebuild()` has the worker open the default corpus ahead of any run
(a notebook does it when it loads the extension); a run that asks for inputs being opened waits for that open.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from research_nb.core.errors import UserInputError
from research_nb.core.events import IndexingProgress
from research_nb.core.protocols import StageContext
from research_nb.core.workers import Recipe, workers
from research_nb.engines._fields import FieldValue, field_value, is_quantity
from research_nb.engines._report import AnswerBlock, ReportInput, TableRow, write_report
from research_nb.engines.offline._extract import FINDINGS_PER_SUB_QUESTION, select_findings
from research_nb.engines.offline._knowledge import Knowledge
from research_nb.engines.offline._plan import plan_question
from research_nb.engines.offline._query import TitleIndex, analyse, make_brief
from research_nb.engines.offline._structured import (
    STRUCTURED,
    answer_of,
    findings_of,
    lookup,
    lookup_parts,
    structured_brief,
    undecided_note,
)
from research_nb.engines.offline._summary import answer_sentences, subject_name
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion, ClarificationRequest
from research_nb.models.research import (
    Finding,
    Passage,
    ResearchBrief,
    ResearchOptions,
    ResearchReport,
    ResearchState,
    SubQuestion,
    shorten,
)
from research_nb.sources._inputs import inputs_hold
from research_nb.sources.corpus import Corpus, DocumentTexts, IndexingStatus

DEFAULT_CORPORA = ("factbook",)
_LINKS_PER_HOP = 3
_LINKING_PASSAGES = 3
_TABLE_ROWS = 8
_SECTION_FIELDS = 16
_NAMED_SEARCH_DEPTH = 5  # how much deeper to search for a named document's own passages
_CACHED_CORPORA = 8
_QUOTED_QUERY_CHARS = 200  # a clarifying question quotes at most this much of the query (clients cap at 500)

#: A run over only the user's own files, fewer bytes than this in all, runs in the awaiting process: below it a
#: worker process costs more than it saves (docs/workers.md: the crossover measured by bench/workers.py).
IN_PROCESS_BELOW_BYTES = 64 * 1024
_PLACEMENTS_KEPT = 64

_Search = Callable[..., Coroutine[Any, Any, list[Passage]]]
R = TypeVar("R")
_Stage = Callable[["OfflineEngine", StageContext], Coroutine[Any, Any, R]]


def _offloaded(stage: _Stage[R]) -> _Stage[R]:
    """Run the stage in the research worker process when the run is worth one (`OfflineEngine._offload`)."""

    @functools.wraps(stage)
    async def run(self: OfflineEngine, ctx: StageContext) -> R:
        if await self._offload(ctx):
            result: R = await workers.call(Recipe(_worker_engine, (self._cache_dir,)), stage.__name__, ctx)
            return result
        return await stage(self, ctx)

    return run


class OfflineEngine:
    """Extractive research over local corpora (the bundled World Factbook and the user's own files)."""

    name = "offline"

    def __init__(self, cache_dir: Path | None = None, *, in_worker: bool | None = None) -> None:
        """`in_worker`: run the stages in the research worker process (True), in this process's threads (False),
        or by the size of each run's inputs (None, the default)."""
        self._cache_dir = cache_dir
        self._in_worker = in_worker
        self._knowledge: dict[int, tuple[Corpus, Knowledge]] = {}
        self._placements: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], bool] = OrderedDict()
        self._checked_builtins: set[tuple[str, ...]] = set()  # installed packages do not go away mid-process
        self._openings: dict[tuple[tuple[str, ...], tuple[str, ...]], _Opening] = {}
        self._openings_lock = threading.Lock()

    def check_options(self, options: ResearchOptions) -> None:
        builtins = _builtins(options)
        if options.sources or builtins not in self._checked_builtins:
            Corpus.check(options.sources, builtins)  # reads the packages' metadata: once per set of built-ins
            self._checked_builtins.add(builtins)

    # -- stages -------------------------------------------------------------------------------------------

    @_offloaded
    async def clarify(self, ctx: StageContext) -> ClarificationRequest | None:
        _, knowledge = await self._open(ctx)
        if not analyse(question_of(ctx.state), knowledge.titles).vague:
            return None
        query = shorten(" ".join(ctx.state.user_query.split()), _QUOTED_QUERY_CHARS)  # never a long query whole
        return ClarificationRequest(
            context=f"“{query}” is too broad to research well.",
            questions=[
                ClarificationQuestion(
                    id="focus",
                    question=f"Which country, organisation or subject should the research on “{query}” focus on?",
                    context="For example: Norway, the European Union, renewable energy.",
                    order=0,
                ),
                ClarificationQuestion(
                    id="aspect",
                    question="Which aspect matters most?",
                    question_type="choice",
                    choices=[
                        ClarificationChoice(id="overview", label="overview"),
                        ClarificationChoice(id="figures", label="key figures"),
                        ClarificationChoice(id="history", label="history"),
                        ClarificationChoice(
                            id="other",
                            label="something else",
                            is_other=True,
                            requires_details=True,
                            details_prompt="Which aspect?",
                        ),
                    ],
                    order=1,
                ),
            ],
        )

    @_offloaded
    async def brief(self, ctx: StageContext) -> ResearchBrief:
        _, knowledge = await self._open(ctx)
        brief = _brief(question_of(ctx.state), knowledge)
        if brief.plan is not None:
            ctx.log(f"read as: {brief.plan.describe()}")
        return brief

    @_offloaded
    async def research(self, ctx: StageContext) -> None:
        corpus, knowledge = await self._open(ctx)
        titles = knowledge.titles
        state = ctx.state
        ctx.state.metadata["documents_searched"] = corpus.num_documents
        ctx.state.metadata["corpus"] = {"description": corpus.describe(), "content_hash": corpus.content_hash}
        brief = state.brief or _brief(question_of(state), knowledge)
        plan = brief.plan
        if plan is not None and plan.kind in STRUCTURED and lookup(ctx, corpus, knowledge, plan, brief):
            return
        if plan is not None and plan.kind == "multipart":
            brief = lookup_parts(ctx, corpus, knowledge, plan, brief)  # the parts left to research by search
        limit = asyncio.Semaphore(ctx.options.max_concurrency)
        k = ctx.options.max_search_results

        async def search(query: str, depth: int = k) -> list[Passage]:
            async with limit:
                return await asyncio.to_thread(corpus.search_sync, query, depth)

        anchors = {sq.id: _entity_documents(sq, titles) for sq in brief.sub_questions}
        async with asyncio.TaskGroup() as group:
            pending = [(sq, [group.create_task(search(q)) for q in sq.queries]) for sq in brief.sub_questions]
            for sq, tasks in pending:  # recorded in sub-question order, whatever finishes first
                ctx.progress(sq, "searching")
                hits = _merge([await t for t in tasks])
                if anchors[sq.id]:
                    hits = [h for h in hits if h.document_id in anchors[sq.id]] or hits
                self._record(ctx, corpus, hits, sq)
                if hits and not anchors[sq.id]:
                    # Documents about the entities the question names come first: the chain starts there. Their
                    # best passages are fetched even when other documents outscore them on the question's words.
                    named = [m for m in titles.mentions(sq.question) if m.document_ids]
                    for mention in named:
                        query = next((q for q in sq.queries if q.startswith(mention.name)), mention.name)
                        wide = await search(query, k * _NAMED_SEARCH_DEPTH)
                        own = [h for h in wide if h.document_id in mention.document_ids][:k]
                        self._record(ctx, corpus, own, sq)
                    _promote(ctx.state, sq.id, {d for m in named for d in m.document_ids}, hits[0].score)

        for hop in range(ctx.options.max_hops):
            followed = await self._follow_links(ctx, corpus, titles, brief, anchors, search)
            if not followed:
                break
            ctx.log(f"hop {hop + 1}: followed {', '.join(followed)}")
        if brief.comparison:
            self._align_fields(ctx, corpus, brief, anchors)

    # Extraction and writing are pure Python (milliseconds to tens of them): in a thread, the kernel's loop keeps
    # answering cells and Cancel clicks meanwhile, and a cancel lands at the await.
    @_offloaded
    async def compress(self, ctx: StageContext) -> list[Finding]:
        _, knowledge = await self._open(ctx)
        brief = ctx.state.brief
        if brief is not None and brief.plan is not None and brief.plan.kind != "multipart":
            answer = answer_of(ctx.state, knowledge)
            if answer is not None:
                return findings_of(answer, brief)
        return await ctx.run_blocking(_findings, ctx.state, _named_documents(ctx.state, knowledge.titles))

    @_offloaded
    async def report(self, ctx: StageContext) -> ResearchReport:
        _, knowledge = await self._open(ctx)
        answer = answer_of(ctx.state, knowledge, ctx.state.findings)
        return await ctx.run_blocking(_report, ctx.state, ctx.state.findings, None, answer)

    def partial_report(self, state: ResearchState) -> ResearchReport | None:
        if not state.passages:
            return None
        stage = state.current_stage.value.replace("_", " ")
        note = f"The run stopped during the {stage} stage; this shows what it had gathered by then."
        return _report(state, state.findings or _findings(state), partial_note=note)

    # -- helpers ------------------------------------------------------------------------------------------

    async def _offload(self, ctx: StageContext) -> bool:
        """Whether this run's stages go to the worker process: always for a built-in corpus (the Factbook alone
        is 32,600 passages), for the user's files when they hold `IN_PROCESS_BELOW_BYTES` or more. Decided once
        per combination of inputs (off the loop, from the first files that reach the size)."""
        if not workers.enabled or self._in_worker is False:
            return False
        if self._in_worker:
            return True
        options = ctx.options
        key = (tuple(options.sources), _builtins(options))
        placed = self._placements.get(key)
        if placed is None:
            placed = self._placements[key] = await asyncio.to_thread(_worth_a_process, *key)
            while len(self._placements) > _PLACEMENTS_KEPT:
                self._placements.popitem(last=False)
        return placed

    async def prepare(self) -> None:
        """Open the default corpus (the Factbook) and read what is known of it, before any run asks: the worker
        does this when a notebook loads the extension, so that its first `%research` finds it open."""
        await asyncio.to_thread(self._opened, (), DEFAULT_CORPORA, _OpenListener())

    async def _open(self, ctx: StageContext) -> tuple[Corpus, Knowledge]:
        """The run's corpus (opened in a thread: indexing must not block the loop) and what is known of it."""
        options = ctx.options
        return await ctx.run_blocking(self._opened, options.sources, _builtins(options), _OpenListener(ctx))

    def _opened(self, sources: Sequence[str], builtins: tuple[str, ...], listener: _OpenListener) -> _Opened:
        """One build per set of inputs at a time: a run that asks while another run (or `prepare`) is opening
        the same inputs waits for that build, seeing its indexing progress, instead of doing it again."""
        key = (tuple(sources), builtins)
        with self._openings_lock:
            opening = self._openings.setdefault(key, _Opening())
            opening.listeners.append(listener)
            if opening.last is not None:
                listener.indexing(opening.last)  # joined mid-build: the step shows where it is
        read: list[Knowledge] = []  # read from the documents while a helper process wrote their index

        def on_documents(documents: list[DocumentTexts]) -> None:
            read.append(Knowledge.of_texts(documents))

        try:
            with opening.lock:
                corpus = Corpus.open(
                    sources,
                    builtins=builtins,
                    cache_dir=self._cache_dir,
                    on_progress=listener.log,
                    on_warning=listener.warn,
                    on_indexing=functools.partial(self._indexing, opening),
                    on_documents=on_documents,
                )
                cached = self._knowledge.get(id(corpus))
                if cached is None or cached[0] is not corpus:
                    cached = (corpus, read[0] if read else _knowledge_of(corpus))
                    with self._openings_lock:  # other inputs' opens update it from their threads
                        self._knowledge[id(corpus)] = cached
                        while len(self._knowledge) > _CACHED_CORPORA:
                            self._knowledge.pop(next(iter(self._knowledge)))
                return cached
        finally:
            with self._openings_lock:
                opening.listeners.remove(listener)
                if not opening.listeners:  # nobody builds or waits: the next open starts afresh
                    del self._openings[key]

    def _indexing(self, opening: _Opening, status: IndexingStatus) -> None:
        with self._openings_lock:
            opening.last = None if status.finished else status
            for listener in opening.listeners:
                listener.indexing(status)

    @staticmethod
    def _record(ctx: StageContext, corpus: Corpus, hits: list[Passage], sq: SubQuestion) -> None:
        sources = [s for s in (corpus.source(d) for d in dict.fromkeys(h.document_id for h in hits)) if s]
        ctx.add_passages(hits, sq.id, sources)
        found = len({p.document_id for p in ctx.state.passages if sq.id in p.sub_question_ids})
        ctx.progress(sq, "done" if found else "failed", sources_found=found)

    async def _follow_links(
        self,
        ctx: StageContext,
        corpus: Corpus,
        titles: TitleIndex,
        brief: ResearchBrief,
        anchors: dict[str, set[str]],
        search: _Search,
    ) -> list[str]:
        """One hop: search for documents the best passages name but the run has not retrieved yet."""
        followed: list[str] = []
        plans: list[tuple[SubQuestion, set[str], str, float]] = []
        for sq in brief.sub_questions:
            if anchors[sq.id]:
                continue  # an entity with its own document needs no hops
            have = {p.document_id for p in ctx.state.passages if sq.id in p.sub_question_ids}
            for passage in _ranked(ctx.state, sq.id)[:_LINKING_PASSAGES]:
                for mention in titles.mentions(passage.text):
                    _promote(ctx.state, sq.id, set(mention.document_ids) & have - {passage.document_id}, passage.score)
                    wanted = set(mention.document_ids) - have
                    if wanted and len([p for p in plans if p[0] is sq]) < _LINKS_PER_HOP:
                        plans.append((sq, wanted, mention.name, passage.score))
                        have |= wanted
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(search(name)) for _, _, name, _ in plans]
        for (sq, wanted, name, link_score), task in zip(plans, tasks, strict=True):
            hits = [h for h in task.result() if h.document_id in wanted][:2] or task.result()[:1]
            # A followed link is as relevant as the passage that named it (its own score answers another query).
            self._record(ctx, corpus, [h.model_copy(update={"score": link_score}) for h in hits], sq)
            followed.append(name)
        return followed

    @staticmethod
    def _align_fields(ctx: StageContext, corpus: Corpus, brief: ResearchBrief, anchors: dict[str, set[str]]) -> None:
        """For a comparison, read the data fields of the section each entity's best passage comes from, in the
        document's own order (which puts headline figures first), so the table compares like with like."""
        for sq in brief.sub_questions:
            ranked = _ranked(ctx.state, sq.id)
            if not ranked or not anchors[sq.id]:
                continue
            # The section of the best data passage ("Finland — Economy"), even if prose ranked higher.
            best = next((p for p in ranked if field_value(p)), ranked[0])
            section, document_id = best.title, best.document_id
            fields = [p for p in corpus.passages_of(document_id) if p.title == section and field_value(p)]
            if fields:
                ctx.add_passages(fields[:_SECTION_FIELDS], sq.id, [s for s in [corpus.source(document_id)] if s])


_Opened = tuple[Corpus, Knowledge]


@dataclass
class _Opening:
    """One set of inputs of this engine: the lock its builds take turns on, the runs waiting on it, and the last
    indexing progress of the build going on (None when none is)."""

    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    listeners: list[_OpenListener] = dataclasses.field(default_factory=list)
    last: IndexingStatus | None = None


@dataclass(frozen=True, eq=False)  # each is one run's: `remove` finds it by identity
class _OpenListener:
    """Where an open reports: a run's context (log lines, warnings, indexing progress), or nowhere (`prepare`)."""

    ctx: StageContext | None = None

    def log(self, message: str) -> None:
        if self.ctx is not None:
            self.ctx.log(message)

    def warn(self, message: str) -> None:
        if self.ctx is not None:
            self.ctx.warn(message)

    def indexing(self, status: IndexingStatus) -> None:  # a corpus being read and indexed: shown as it goes
        if self.ctx is not None:
            # the last one, with `finished`, is never dropped from a full queue (the widget ends the step on it)
            fields = dataclasses.asdict(status)
            self.ctx.emit(IndexingProgress(request_id=self.ctx.request_id, routine=not status.finished, **fields))


def _knowledge_of(corpus: Corpus) -> Knowledge:
    """What is known of `corpus`: kept beside its index by an earlier process, else read now. A process that
    found the index in the cache keeps what it read there for the next; the one that built the index does not
    (writing it costs 0.2-0.3 s, which a cold start would pay), so the third process to open a new index is the
    first to read its knowledge back."""
    knowledge = Knowledge.load(corpus)
    if knowledge is None:
        knowledge = Knowledge.of(corpus)
        if corpus.stats.index_from_cache:
            knowledge.save(corpus)
    return knowledge


def prebuild() -> None:
    """Have the research worker open the default corpus now (`OfflineEngine.prepare`), for the engine that runs
    without a cache folder of its own (the one `%research` uses); nothing when workers are off (it would be CPU
    work in this process)."""
    if workers.enabled:
        workers.prepare(Recipe(_worker_engine, (None,)), "prepare")


def _worker_engine(cache_dir: Path | None) -> OfflineEngine:
    """The engine the worker process builds (once per cache folder) to run stages sent to it."""
    return OfflineEngine(cache_dir, in_worker=False)


def _worth_a_process(sources: tuple[str, ...], builtins: tuple[str, ...]) -> bool:
    if builtins:
        return True
    try:
        return inputs_hold(sources, IN_PROCESS_BELOW_BYTES)
    except UserInputError:
        return False  # the stage reports the bad path itself, here as anywhere


def _brief(question: str, knowledge: Knowledge) -> ResearchBrief:
    """A planned question gets sub-questions from its plan; a multi-part one a sub-question per clause; any other
    is split by the entities it names."""
    plan = plan_question(question, knowledge.titles, knowledge.facts, knowledge.vocabulary)
    if plan.kind in STRUCTURED:
        return structured_brief(question, plan)
    if plan.kind == "multipart":
        subs = [SubQuestion(id=f"sq{n}", question=part, queries=[part]) for n, part in enumerate(plan.parts, start=1)]
        return ResearchBrief(objective=question, sub_questions=subs, plan=plan)
    brief = make_brief(analyse(question, knowledge.titles))
    return brief.model_copy(update={"plan": plan})


def _builtins(options: ResearchOptions) -> tuple[str, ...]:
    """The built-in corpora of a run: as asked, else the Factbook unless the user brought their own files."""
    if options.corpora is not None:
        return tuple(options.corpora)
    return () if options.sources else DEFAULT_CORPORA


def question_of(state: ResearchState) -> str:
    """The question with any clarification answers folded in."""
    clarification, response = state.clarification, state.clarification_response
    if clarification is None or response is None:
        return state.user_query
    questions = {q.id: q for q in clarification.questions}
    answers = [a.as_text(questions[a.question_id]) for a in response.answers if a.question_id in questions]
    return " ".join([state.user_query, *(a for a in answers if a)])


def _entity_documents(sq: SubQuestion, titles: TitleIndex) -> set[str]:
    if not sq.entity:
        return set()
    return {d for m in titles.mentions(sq.entity) for d in m.document_ids}


def _promote(state: ResearchState, sub_question_id: str, document_ids: set[str], score: float) -> None:
    """Documents that a top passage names are as relevant as that passage, even if the search ranked them low."""
    for passage in state.passages:
        if passage.document_id in document_ids and sub_question_id in passage.sub_question_ids:
            passage.score = max(passage.score, score)


def _merge(results: Sequence[Sequence[Passage]]) -> list[Passage]:
    best: dict[str, Passage] = {}
    for hits in results:
        for hit in hits:
            if hit.id not in best or hit.score > best[hit.id].score:
                best[hit.id] = hit
    return sorted(best.values(), key=lambda p: (-p.score, p.id))


def _ranked(state: ResearchState, sub_question_id: str) -> list[Passage]:
    return sorted((p for p in state.passages if sub_question_id in p.sub_question_ids), key=lambda p: (-p.score, p.id))


def _findings(state: ResearchState, named: set[str] | None = None) -> list[Finding]:
    """The sentences for each section. Values already shown in the comparison table are not repeated; when the
    question names documents, other documents' passages under the same headings are left out: asked about
    Switzerland's languages, the Languages fields of other countries are parallel facts, not evidence."""
    subs = state.brief.sub_questions if state.brief else []
    in_table = _table_passages(_table(state)[1])
    named_headings = {
        p.location.heading for p in state.passages if p.document_id in (named or ()) and p.location.heading
    }
    # A single-section report gets a little more room than each section of a multi-part one.
    limit = FINDINGS_PER_SUB_QUESTION + (2 if len(subs) == 1 else 0)
    titles = {s.id: s.title for s in state.sources}
    findings = []
    for sq in subs:
        passages = [
            p
            for p in _ranked(state, sq.id)
            if p.id not in in_table
            and not (named and p.document_id not in named and p.location.heading in named_headings)
        ]
        findings += select_findings(sq, passages, limit=limit, document_titles=titles, named=named or ())
    return findings


def _named_documents(state: ResearchState, titles: TitleIndex) -> set[str]:
    """Retrieved documents the question itself names (for a comparison, the entities have their own sections)."""
    if state.brief is None or state.brief.comparison:
        return set()
    retrieved = {p.document_id for p in state.passages}
    return {d for m in titles.mentions(question_of(state)) for d in m.document_ids} & retrieved


def _table(state: ResearchState) -> tuple[tuple[str, ...], list[TableRow]]:
    """Side-by-side values for the fields that at least two entities share, in the first entity's reading order."""
    brief = state.brief
    if brief is None or not brief.comparison or len(brief.sub_questions) < 2:
        return (), []
    columns = tuple(sq.entity or sq.question for sq in brief.sub_questions)
    per_entity: list[dict[str, FieldValue]] = []
    order: list[str] = []
    for sq in brief.sub_questions:
        values: dict[str, FieldValue] = {}
        in_reading_order = sorted(_ranked(state, sq.id), key=lambda p: (p.document_id, p.location.start or 0, p.id))
        for passage in in_reading_order:
            value = field_value(passage)
            if value and is_quantity(value.value) and value.field not in values:
                values[value.field] = value
                if value.field not in order:
                    order.append(value.field)
        per_entity.append(values)
    shared = [f for f in order if sum(f in v for v in per_entity) >= 2][:_TABLE_ROWS]
    return columns, [TableRow(field=f, cells=tuple(v.get(f) for v in per_entity)) for f in shared]


def _table_passages(rows: Sequence[TableRow]) -> set[str]:
    return {cell.passage.id for row in rows for cell in row.cells if cell}


def _report(
    state: ResearchState, findings: Sequence[Finding], partial_note: str | None, answer: AnswerBlock | None = None
) -> ResearchReport:
    columns, rows = ((), []) if answer is not None else _table(state)
    summary = None if answer is not None else answer_sentences(state, findings)
    searched = state.metadata.get("documents_searched")
    return write_report(
        ReportInput(
            state=state,
            findings=[] if answer is not None else findings,
            columns=columns,
            rows=rows,
            documents_searched=searched if isinstance(searched, int) else 0,
            partial_note=partial_note,
            answer=answer,
            summary=summary,
            summary_title="Answer",
            labels=_labels(state, [*findings, *(summary or [])]),
            answer_note=None if answer is not None else undecided_note(state),
        )
    )


def _labels(state: ResearchState, findings: Sequence[Finding]) -> dict[tuple[str, str], str]:
    """Whose each finding is, by its document's title: a bare "Unemployment rate: 2.6%" or "He is ..." names its
    subject this way (in a comparison too: a sentence found for one entity may come from another's document),
    or by the fuller name its passage gives that subject."""
    titles = {s.id: s.title for s in state.sources}
    labels = {}
    for finding in findings:
        passage = state.passage(finding.passage_ids[0])
        if passage is not None and passage.document_id in titles:
            labels[(passage.id, finding.text)] = subject_name(passage, titles[passage.document_id])
    return labels
