"""What the LLM engine keeps in a run's state between stages (verified notes, claims left out, usage) and the
report it writes from them with the project's one report writer.

Everything the report shows is read from the state, so a replayed run — same state — gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import TypeAdapter

from research_nb.engines._report import AnswerBlock, ReportInput, write_report
from research_nb.engines.llm._usage import UsageRecord
from research_nb.engines.llm._verify import Verdict
from research_nb.models.research import Finding, ResearchReport, ResearchState

NOTES = "llm_notes"  # verified research notes (findings before compression)
UNSUPPORTED = "unsupported_claims"  # per stage: the claims left out, with why
SEARCHED = "searched"  # what the run searched, for the byline
DOCUMENTS = "documents_searched"

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_findings = TypeAdapter(list[Finding])


def strip_links(text: str) -> str:
    """`text` without links: a model-written plan or heading is shown, and must not carry a URL of its own."""
    return " ".join(_URL.sub(" ", text).split())


# -- state --------------------------------------------------------------------------------------------------------


def notes_of(state: ResearchState) -> list[Finding]:
    return _findings.validate_python(state.metadata.get(NOTES) or [])


def set_notes(state: ResearchState, notes: Sequence[Finding]) -> None:
    state.metadata[NOTES] = _findings.dump_python(list(notes), mode="json")


def reset_unsupported(state: ResearchState, stage: str) -> None:
    """A stage that runs again (a resumed run) forgets what its earlier try left out."""
    record = state.metadata.get(UNSUPPORTED)
    if isinstance(record, dict):
        record.pop(stage, None)


def unsupported_claims(state: ResearchState) -> int:
    record = state.metadata.get(UNSUPPORTED)
    return sum(len(v) for v in record.values() if isinstance(v, list)) if isinstance(record, dict) else 0


def verified_findings(
    verdicts: Sequence[Verdict],
    sub_question_id: str | None,
    stage: str,
    state: ResearchState,
    seen: set[str] | None = None,
) -> list[Finding]:
    """The supported claims as findings (citing their passage, quoting its words); the others are recorded in the
    state as left out. A claim with no sub-question goes with the one its passage was retrieved for. A claim
    whose text is in `seen` (said already) is skipped; `seen` gets the new ones."""
    seen = set() if seen is None else seen
    findings: list[Finding] = []
    default_sub = state.brief.sub_questions[0].id if state.brief and state.brief.sub_questions else "sq-1"
    for verdict in verdicts:
        passage = verdict.passage
        if verdict.problem is not None or passage is None:
            record = state.metadata.setdefault(UNSUPPORTED, {})
            if isinstance(record, dict):
                left_out = record.setdefault(stage, [])
                if isinstance(left_out, list):
                    left_out.append(
                        {
                            "claim": verdict.claim.text,
                            "passage_id": verdict.claim.passage_id,
                            "quote": verdict.claim.quote,
                            "why": verdict.problem,
                        }
                    )
            continue
        text = " ".join(verdict.claim.text.split())
        sub = sub_question_id or (passage.sub_question_ids[0] if passage.sub_question_ids else default_sub)
        if text in seen:
            continue
        seen.add(text)
        cited = [passage.id, *([verdict.second.id] if verdict.second and verdict.second.id != passage.id else [])]
        findings.append(Finding(sub_question_id=sub, text=text, passage_ids=cited, quote=verdict.quote))
    return findings


# -- report -------------------------------------------------------------------------------------------------------


def render(
    state: ResearchState,
    findings: Sequence[Finding],
    *,
    summary: Sequence[Finding] | None = None,
    answer: AnswerBlock | None = None,
    partial_note: str | None = None,
) -> ResearchReport:
    """The report of `findings`, opened by `summary` (the model's) or by a composed, verified `answer`."""
    usage = UsageRecord.model_validate(state.metadata.get("usage") or {})
    notes = []
    if usage.budget_reached:
        notes.append(
            f"**Budget reached.** {usage.budget_reached[0].upper()}{usage.budget_reached[1:]}: no model call was "
            "started after that, and this report is written from what had been gathered."
        )
    left_out = unsupported_claims(state)
    if left_out:
        claims = "claim" if left_out == 1 else "claims"
        notes.append(
            f"**{left_out} {claims} left out.** The model wrote {left_out} {claims} that the passages cited do not "
            "support, or that cite a source this run never retrieved; only verified claims are shown."
        )
    searched = state.metadata.get(SEARCHED)
    places = [str(p) for p in searched] if isinstance(searched, list) else []
    documents = state.metadata.get(DOCUMENTS)
    return write_report(
        ReportInput(
            state=state,
            findings=findings,
            documents_searched=documents if isinstance(documents, int) else 0,
            engine="llm",
            partial_note=partial_note,
            summary=summary,
            answer=answer,
            scope=f"Research with {usage.model or 'a model'} over {_join(places) or 'nothing'}",
            notes=notes,
            footer=[_usage_line(usage)] if usage.stages else [],
            methodology=_methodology(state, usage),
            unsupported_claims=left_out,
        )
    )


def _usage_line(usage: UsageRecord) -> str:
    total = usage.total()
    cost = f", estimated cost ${total.cost_usd:.4f}" if total.cost_usd else ""
    requests = "request" if total.requests == 1 else "requests"
    return (
        f"_Model usage: {total.tokens:,} tokens ({total.input_tokens:,} in, {total.output_tokens:,} out) in "
        f"{total.requests} {requests}{cost}._"
    )


def _methodology(state: ResearchState, usage: UsageRecord) -> str:
    subs = len(state.brief.sub_questions) if state.brief else 0
    return (
        f"A language model ({usage.model}) split the question into {subs} sub-question(s) with search queries. "
        f"Each was searched; {len(state.passages)} passages from {len(state.sources)} documents were retrieved, and "
        "the model took notes from them, each citing a passage and quoting its words. Every claim was checked "
        "against the passage it cites (the quote must be in it, and support the claim's numbers, links and most of "
        "its words) and left out when it failed; the report is written from the verified claims only."
    )


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""
