"""Questions the corpus's data decides: the brief, the lookup and the answer for a planned question.

A planned question (a fact, a figure, a comparison, a ranking over a group, a trend, a yes/no test) is answered
from the records of the documents it names: the research stage retrieves exactly the passages that hold the asked
field (for every sovereign member of a group, with the passage that says it belongs), and the answer is composed
from them. Questions with no plan (overviews) are researched by search instead (`_engine`).
"""

from __future__ import annotations

from collections.abc import Sequence

from research_nb.core.protocols import StageContext
from research_nb.engines._report import AnswerBlock, EvidenceSection, Line, Quote, document_title, plain
from research_nb.engines.offline._answer import compose
from research_nb.engines.offline._facts import GROUP_FIELDS, Record, lower_first
from research_nb.engines.offline._knowledge import Knowledge
from research_nb.engines.offline._plan import plan_parts
from research_nb.engines.offline._prose import yes_no_answer
from research_nb.models.research import Finding, Passage, QuestionPlan, ResearchBrief, ResearchState, SubQuestion
from research_nb.sources.corpus import Corpus

#: Kinds answered from data; "overview" and "multipart" are researched by search (a part may be planned).
STRUCTURED = frozenset({"fact", "numeric", "comparison", "superlative", "topn", "trend", "yesno", "list"})


def documents_of(plan: QuestionPlan, knowledge: Knowledge) -> list[str]:
    """The document ids of the plan's entities, in its order (the first document of each name)."""
    found: list[str] = []
    for name in plan.entities:
        mention = next((m for m in knowledge.titles.mentions(name) if m.document_ids), None)
        if mention is not None and mention.document_ids[0] not in found:
            found.append(mention.document_ids[0])
    return found


def structured_brief(question: str, plan: QuestionPlan) -> ResearchBrief:
    """Readable sub-questions for a planned question: one per entity, or one for the whole group."""
    field = _field_words(plan)
    when = f" in {plan.years[-1]}" if plan.years and plan.kind in ("superlative", "topn") else ""
    if plan.kind in ("superlative", "topn"):
        group = plan.groups[0]
        subs = [
            SubQuestion(
                id="sq1", question=f"The {field} of each country in {group}{when}", queries=[f"{group} {field}"]
            )
        ]
    else:
        suffix = {"trend": ", year by year", "yesno": f": {plan.test}?"}.get(plan.kind, "")
        subs = [
            SubQuestion(id=f"sq{n}", question=f"{name}: {field}{suffix}", queries=[f"{name} {field}"], entity=name)
            for n, name in enumerate(plan.entities, start=1)
        ]
        if plan.kind in ("yesno", "trend", "fact", "numeric", "list"):
            subs = subs[:1]
    return ResearchBrief(objective=question, sub_questions=subs, comparison=plan.kind == "comparison", plan=plan)


def lookup(ctx: StageContext, corpus: Corpus, knowledge: Knowledge, plan: QuestionPlan, brief: ResearchBrief) -> bool:
    """Retrieve the passages that hold the plan's field; False when the corpus has none of them."""
    field, part = plan.attribute or "", plan.attribute_detail
    found_any = False
    if plan.kind in ("superlative", "topn"):
        sub = brief.sub_questions[0]
        ctx.progress(sub, "searching")
        members = [
            d for d in knowledge.facts.group_members.get(plan.groups[0], []) if knowledge.facts.documents[d].sovereign
        ]
        passages: list[Passage] = []
        for document_id in members:
            facts = knowledge.facts.documents[document_id]
            records = [*facts.get(field, part)[:1], *(r for r in facts.records if r.field in GROUP_FIELDS)]
            passages += _passages(corpus, records)
        return _record(ctx, corpus, passages, sub)
    for sub, document_id in zip(brief.sub_questions, documents_of(plan, knowledge), strict=False):
        ctx.progress(sub, "searching")
        facts = knowledge.facts.documents[document_id]
        records = facts.get(field, part) or [r for r in facts.records if r.field == field]
        found_any = _record(ctx, corpus, _passages(corpus, records[:1]), sub) or found_any
    return found_any


def lookup_parts(
    ctx: StageContext, corpus: Corpus, knowledge: Knowledge, plan: QuestionPlan, brief: ResearchBrief
) -> ResearchBrief:
    """Retrieve the passages of each planned part of a multi-part question under its own sub-question; the brief
    of the parts left to research by search."""
    left: list[SubQuestion] = []
    for sub, part in zip(brief.sub_questions, _part_plans(plan, knowledge), strict=False):
        if part.kind in STRUCTURED:
            own = structured_brief(sub.question, part)
            own.sub_questions = [s.model_copy(update={"id": sub.id}) for s in own.sub_questions]
            if lookup(ctx, corpus, knowledge, part, own):
                continue
        left.append(sub)
    return brief.model_copy(update={"sub_questions": left})


def answer_of(state: ResearchState, knowledge: Knowledge, findings: Sequence[Finding] = ()) -> AnswerBlock | None:
    """The composed answer of a planned run, from the passages it retrieved (None: not decided by them).
    `findings`: the sentences found for the parts of a multi-part question that were researched by search."""
    plan = state.brief.plan if state.brief else None
    if plan is None or state.brief is None:
        return None
    if plan.kind == "multipart":
        return _parts_answer(state, knowledge, plan, state.brief, findings)
    if plan.kind not in STRUCTURED:  # a yes/no question about named things is answered from their prose
        return yes_no_answer(state.user_query, plan.entities, documents_of(plan, knowledge), state.passages)
    return compose(plan, documents_of(plan, knowledge), state.passages)


def _parts_answer(
    state: ResearchState, knowledge: Knowledge, plan: QuestionPlan, brief: ResearchBrief, findings: Sequence[Finding]
) -> AnswerBlock | None:
    """Each part's answer in turn: composed for a planned part, its best sentence for one researched by search;
    None when no part could be composed (the report then quotes the best sentences of every part)."""
    statements: list[Line] = []
    sections: list[EvidenceSection] = []
    composed = False
    for sub, part in zip(brief.sub_questions, _part_plans(plan, knowledge), strict=False):
        passages = [p for p in state.passages if sub.id in p.sub_question_ids]
        block = compose(part, documents_of(part, knowledge), passages) if part.kind in STRUCTURED else None
        if block is not None:
            composed = True
            statements += block.statements
            sections += block.sections
            continue
        own = sorted((f for f in findings if f.sub_question_id == sub.id), key=lambda f: (-f.score, f.passage_ids[0]))
        if own:
            statements.append(_whose_sentence(state, own[0]))
            lines = tuple(_whose_sentence(state, f) for f in own[1:])
            if lines:
                sections.append(EvidenceSection(title=sub.question, lines=lines))
    return AnswerBlock(tuple(statements), tuple(sections)) if composed else None


def _whose_sentence(state: ResearchState, finding: Finding) -> Line:
    """ "Seychelles: <sentence> [n]": a sentence with the document it is from."""
    passage = state.passage(finding.passage_ids[0])
    sentence = Quote(finding.text, finding.passage_ids[0])
    if passage is None:
        return (sentence,)
    return (Quote(document_title(passage.title), passage.id, cite=False), ": ", sentence)


def _part_plans(plan: QuestionPlan, knowledge: Knowledge) -> list[QuestionPlan]:
    return plan_parts(plan, knowledge.titles, knowledge.facts, knowledge.vocabulary)


def undecided_note(state: ResearchState) -> str | None:
    """For a planned question its passages did not decide, what is missing (said before the closest passages)."""
    plan = state.brief.plan if state.brief else None
    if plan is None or plan.kind not in STRUCTURED or plan.attribute is None:
        return None
    about = ", ".join(plan.entities or plan.groups) or "it"
    return (
        f"The searched documents do not decide this question: they state no {plan.attribute} for {about}. "
        "The passages closest to it follow."
    )


def findings_of(answer: AnswerBlock, brief: ResearchBrief) -> list[Finding]:
    """The answer's statements as findings (for machines: the API's report, the saved state)."""
    sub = brief.sub_questions[0].id if brief.sub_questions else "sq1"
    found = []
    for line in answer.statements:
        cited = [p for p in line if isinstance(p, Quote) and p.cite] or [p for p in line if isinstance(p, Quote)]
        if cited:
            found.append(
                Finding(
                    sub_question_id=sub, text=plain(line), passage_ids=list(dict.fromkeys(q.passage_id for q in cited)),
                    quote=cited[0].text, score=1.0,
                )
            )  # fmt: skip
    return found


def _passages(corpus: Corpus, records: Sequence[Record]) -> list[Passage]:
    """The passages that state `records`, once each, ranked alike (each holds what the question asks)."""
    found = (corpus.passage(pid) for pid in dict.fromkeys(r.passage_id for r in records))
    return [p.model_copy(update={"score": 1.0}) for p in found if p is not None]


def _record(ctx: StageContext, corpus: Corpus, passages: list[Passage], sub: SubQuestion) -> bool:
    sources = [s for s in (corpus.source(d) for d in dict.fromkeys(p.document_id for p in passages)) if s]
    ctx.add_passages(passages, sub.id, sources)
    found = len({p.document_id for p in passages})
    ctx.progress(sub, "done" if found else "failed", sources_found=found)
    return bool(passages)


def _field_words(plan: QuestionPlan) -> str:
    name = lower_first(plan.attribute or "")
    return f"{name} ({plan.attribute_detail})" if plan.attribute_detail else name
