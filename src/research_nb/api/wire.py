"""What leaves the server in the wire contract's shapes: the report (`WireReport`) and clarifying questions
within the limits existing clients validate.

The internal `ResearchReport` is richer and typed for this project (references as objects, conclusions as a
list); the old clients reject a report whole when one field has another type, and poll for ever without a word
when a clarifying question is longer than they allow. So the fronts' data is translated here, at the boundary,
whatever engine produced it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.metadata import version

from research_nb.models.api_models import CitationAudit, WireMetadata, WireReport, WireSection, WireSource
from research_nb.models.clarification import ClarificationChoice, ClarificationQuestion, ClarificationRequest
from research_nb.models.research import Reference, ReportSection, ResearchReport, ResearchStage, ResearchState, shorten

#: The old clients' limits on clarifying questions (http-contract.md).
MAX_QUESTIONS = 10
MAX_QUESTION_CHARS = 500
MAX_CONTEXT_CHARS = 1000
MAX_CHOICES = 20
MAX_CHOICE_CHARS = 200

_BLANK_QUESTION = "Please say more about your question."
_PARTIAL_BECAUSE = {ResearchStage.CANCELLED: "cancelled", ResearchStage.FAILED: "failed"}


# -- clarifying questions ------------------------------------------------------------------------------------


def fit_clarification(request: ClarificationRequest) -> ClarificationRequest:
    """The questions as old clients accept them: at most 10 (required ones first), texts shortened to fit.

    Ids are kept, so answers to what a client was shown are answers to the run's own questions; a question left
    out is never a required one unless an engine asked more than 10 required questions."""
    ranked = sorted(request.questions, key=lambda q: (not q.is_required, q.order))
    shown = sorted(ranked[:MAX_QUESTIONS], key=lambda q: q.order)
    return request.model_copy(
        update={
            "questions": [_fit_question(q) for q in shown],
            "context": _fit_optional(request.context, MAX_CONTEXT_CHARS),
        }
    )


def _fit_question(question: ClarificationQuestion) -> ClarificationQuestion:
    choices = question.choices
    if choices is not None:
        # keep an "other" choice even when there are too many: it is how a user says something else
        others = [c for c in choices if c.is_other][:1]
        choices = [c for c in choices if c not in others][: MAX_CHOICES - len(others)] + others
        choices = [_fit_choice(c) for c in choices]
    return question.model_copy(
        update={
            "question": shorten(
                question.question.strip() or "Please say more about your question.", MAX_QUESTION_CHARS
            ),
            "context": _fit_optional(question.context, MAX_CONTEXT_CHARS),
            "choices": choices,
        }
    )


def _fit_choice(choice: ClarificationChoice) -> ClarificationChoice:
    return choice.model_copy(
        update={
            "label": shorten(choice.label, MAX_CHOICE_CHARS),
            "details_prompt": _fit_optional(choice.details_prompt, MAX_CHOICE_CHARS),
        }
    )


def _fit_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else shorten(text, limit)


# -- the report ----------------------------------------------------------------------------------------------


def wire_report(report: ResearchReport, state: ResearchState) -> WireReport:
    """The report in the contract's field types. A partial report (cancelled or failed run) says so in its
    title and summary, the only fields old clients show."""
    sections = [_wire_section(s) for s in report.sections]
    meta = report.metadata
    conclusions = " ".join(report.conclusions) or report.conclusion
    why = _PARTIAL_BECAUSE.get(state.current_stage) or ("stopped" if meta.partial else None)
    title, summary = report.title, report.executive_summary
    if why is not None:  # said where old clients look, unless the engine said it there already
        if "partial" not in title.lower():
            title = f"Partial report ({why}): {title}"
        if "partial" not in summary.lower():
            stopped = f"Partial report: the run {why} before it finished; this is what it had gathered."
            summary = f"{stopped} {summary}".strip()
    citations = sum(len(s.citations) for s in _all_sections(report.sections))
    return WireReport(
        title=title,
        executive_summary=summary,
        introduction=report.introduction,
        methodology=report.methodology,
        sections=sections,
        conclusion=report.conclusion or conclusions,
        conclusions=conclusions,
        recommendations=list(report.recommendations),
        references=[reference_line(r) for r in report.references],
        reference_details=list(report.references),
        metadata=WireMetadata(
            created_at=meta.created_at,
            version=_version(),
            authors=[f"research-nb ({meta.engine or state.options.engine} engine)"],
            keywords=_keywords(state),
            source_summary=_sources(report.references, state),
            citation_audit=CitationAudit(
                citations=citations,
                references=len(report.references),
                sources_cited=meta.sources_cited,
                documents_searched=meta.documents_searched,
                unsupported_claims=meta.unsupported_claims,
            ),
            engine=meta.engine or state.options.engine,
            partial=why is not None,
        ),
        quality_score=_quality(report, citations),
        markdown=report.markdown,
    )


@cache
def _version() -> str:
    return version("research-nb")  # a search of the installed distributions: once, not per report


def reference_line(reference: Reference) -> str:
    """`[1] Title — location — URL` (a user's file: `[1] Title — notes/a.md — p. 3`), leaving out what it lacks."""
    parts = [reference.title, reference.path or "", reference.location, reference.url or ""]
    return f"[{reference.number}] " + " — ".join(p for p in parts if p)


def _wire_section(section: ReportSection) -> WireSection:
    return WireSection(
        title=section.title,
        content=section.content,
        subsections=[_wire_section(s) for s in section.subsections],
        figures=[f if isinstance(f, str) else json.dumps(f, ensure_ascii=False) for f in section.figures],
        citations=[f'[{c.number}] "{c.quote}"' for c in section.citations],
        cited=list(section.citations),
    )


def _all_sections(sections: list[ReportSection]) -> list[ReportSection]:
    found: list[ReportSection] = []
    for section in sections:
        found += [section, *_all_sections(section.subsections)]
    return found


def _sources(references: list[Reference], state: ResearchState) -> list[WireSource]:
    known = {s.id: s for s in state.sources}
    by_id: dict[str, WireSource] = {}
    for ref in references:
        entry = by_id.get(ref.source_id)
        if entry is None:
            source = known.get(ref.source_id)
            entry = by_id[ref.source_id] = WireSource(
                id=ref.source_id,
                title=source.title if source else ref.title,
                url=ref.url or (source.url if source else None),
                origin=source.origin if source else None,
                attribution=ref.attribution or (source.attribution if source else None),
            )
        entry.cited_as.append(ref.number)
    return list(by_id.values())


def _keywords(state: ResearchState) -> list[str]:
    """What the research was about: the entities of its sub-questions (countries, organisations, ...)."""
    brief = state.brief
    entities = [sq.entity for sq in brief.sub_questions if sq.entity] if brief else []
    return list(dict.fromkeys(entities))


def _quality(report: ResearchReport, citations: int) -> float:
    """The engine's own score (clamped to 0..1); without one, the share of claims that kept a citation."""
    if report.quality_score is not None:
        return min(1.0, max(0.0, report.quality_score))
    claims = citations + report.metadata.unsupported_claims
    return round(citations / claims, 3) if claims else 0.0
