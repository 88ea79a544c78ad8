"""Writing the Markdown report from findings: summary first, a side-by-side table for comparisons, one section
per sub-question, numbered citations and a Sources list.

Numbers are given to passages in order of first citation. Text that came from a document is escaped so it is
shown as text: a source cannot inject links, HTML or table cells into the report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from research_nb.engines._fields import FieldValue, is_field_line
from research_nb.models.research import (
    Citation,
    Finding,
    PassageLocation,
    Reference,
    ReportMetadata,
    ReportSection,
    ResearchReport,
    ResearchState,
    Source,
)

# Enough to neutralise links and images ([ ]), HTML (< >), emphasis, code and table cells; parentheses and
# other punctuation are harmless once brackets are escaped, and escaping them would only clutter the text.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def document_title(passage_title: str) -> str:
    """'Norway' of 'Norway — Economy': the document a passage title names (see `sources._segment.passage_title`)."""
    return passage_title.split(" — ")[0]


def escape(text: str, *, line_start: bool = True) -> str:
    """Markdown-escape text from a source so it renders literally (no links, HTML, emphasis or table breaks).
    Text that may open a line must not read as a heading or list marker either; a table cell cannot."""
    flat = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return "\\" + flat if line_start and flat[:1] in ("#", "+", "-", "=") else flat


@dataclass(frozen=True)
class Quote:
    """Words quoted from a passage. `cite`: followed by the passage's citation number; a name taken from the
    passage's title ("Venezuela" before Venezuela's figure) needs none of its own."""

    text: str
    passage_id: str
    cite: bool = True


#: A line of an answer: the engine's fixed wording (str) around quotes.
Line = tuple["str | Quote", ...]


@dataclass(frozen=True)
class EvidenceSection:
    """The evidence under an answer: bullet lines, or a table whose cells are lines."""

    title: str
    lines: tuple[Line, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Line, ...], ...] = ()


@dataclass(frozen=True)
class AnswerBlock:
    """An answer composed by an engine: one to three statements, then the evidence in the shape the question
    calls for (a ranking, a year-by-year table, both values side by side, the deciding value)."""

    statements: tuple[Line, ...]
    sections: tuple[EvidenceSection, ...] = ()

    def passage_ids(self) -> list[str]:
        lines = [*self.statements]
        for section in self.sections:
            lines += [*section.lines, *(cell for row in section.rows for cell in row)]
        return list(dict.fromkeys(p.passage_id for line in lines for p in line if isinstance(p, Quote)))


def plain(line: Line) -> str:
    """A line as plain text (no citations), e.g. for a finding."""
    return "".join(p.text if isinstance(p, Quote) else p for p in line)


@dataclass(frozen=True)
class TableRow:
    field: str
    cells: tuple[FieldValue | None, ...]  # one per entity, in column order


@dataclass(frozen=True)
class ReportInput:
    state: ResearchState
    findings: Sequence[Finding]
    columns: tuple[str, ...] = ()  # entity names for the side-by-side table
    rows: Sequence[TableRow] = ()
    documents_searched: int = 0
    engine: str = "offline"
    partial_note: str | None = None
    # For engines whose text is written by a model (the `llm` engine); the defaults give the offline report.
    summary: Sequence[Finding] | None = None  # the key findings, chosen by the engine; None: the best of each part
    scope: str | None = None  # the byline's start ("Research with ... over ..."); None: "<Engine> research over N"
    notes: Sequence[str] = ()  # Markdown notes shown under the byline (budget reached, claims left out)
    footer: Sequence[str] = ()  # Markdown lines after the sources (model usage)
    methodology: str | None = None
    unsupported_claims: int = 0
    answer: AnswerBlock | None = None  # an answer composed by the engine: opens the report, replaces the summary
    summary_title: str = "Key findings"
    #: (passage id, finding text) -> whose it is ("Japan"), shown before it in the summary. By passage too: two
    #: documents may say the same words ("Exchange rates: 0.88 (2024 est.)" for Switzerland and Liechtenstein).
    labels: dict[tuple[str, str], str] | None = None
    answer_note: str | None = None  # said first in the summary: why the answer is not a direct one


class _Citations:
    def __init__(self, state: ResearchState) -> None:
        self._state = state
        self._numbers: dict[str, int] = {}

    def cite(self, passage_id: str) -> int:
        if passage_id not in self._numbers:
            self._numbers[passage_id] = len(self._numbers) + 1
        return self._numbers[passage_id]

    def references(self) -> list[Reference]:
        sources = {s.id: s for s in self._state.sources}
        refs = []
        for passage_id, number in self._numbers.items():
            passage = self._state.passage(passage_id)
            if passage is None:
                continue
            source = sources.get(passage.document_id) or Source(id=passage.document_id, title=passage.title)
            refs.append(
                Reference(
                    number=number,
                    passage_id=passage_id,
                    source_id=source.id,
                    title=passage.title,
                    location=_where(passage.title, passage.location),
                    url=passage.url or source.url,
                    attribution=source.attribution,
                    path=passage.location.path,
                )
            )
        return refs


def write_report(data: ReportInput) -> ResearchReport:
    state = data.state
    citations = _Citations(state)
    brief_subs = state.brief.sub_questions if state.brief else []
    by_sub: dict[str, list[Finding]] = {sq.id: [] for sq in brief_subs}
    for finding in data.findings:
        by_sub.setdefault(finding.sub_question_id, []).append(finding)

    key = list(data.summary) if data.summary is not None else _key_findings(data.findings, by_sub, state)
    lines = [f"# {escape(state.user_query)}", "", "", ""]  # line 2, the byline, is written once sources are known
    if data.partial_note:
        lines += [f"> **Partial report.** {data.partial_note}", ""]
    for note in data.notes:
        lines += [f"> {note}", ""]
    sections: list[ReportSection] = []
    if data.answer is not None:
        key = []
        for section in _answer_sections(data.answer, citations):
            sections.append(section)
            lines += [f"## {escape(section.title)}", "", section.content, ""]
    else:
        summary_cites = [
            Citation(number=citations.cite(f.passage_ids[0]), passage_id=f.passage_ids[0], quote=f.quote or f.text)
            for f in key
        ]
        summary_lines = [
            f"- {_label(state, f, data.labels)}{escape(f.text)} [{c.number}]"
            for f, c in zip(key, summary_cites, strict=True)
        ]
        if not summary_lines:
            summary_lines = ["_Nothing in the searched documents answers this question._"]
        if data.answer_note:
            summary_lines = [escape(data.answer_note), "", *summary_lines]
        lines += [f"## {data.summary_title}", "", *summary_lines, ""]
        sections.append(
            ReportSection(title=data.summary_title, content="\n".join(summary_lines), citations=summary_cites)
        )

    table, table_citations = _table(data, citations)
    if table:
        lines += ["## At a glance", "", *table, ""]
        sections.append(ReportSection(title="At a glance", content="\n".join(table), citations=table_citations))

    in_summary = {(f.text, f.passage_ids[0]) for f in key}
    for sq in brief_subs:
        # the summary is not repeated below (its sentences may be scored apart from the findings: compare quotes)
        findings = [f for f in by_sub.get(sq.id, []) if (f.text, f.passage_ids[0]) not in in_summary]
        if not findings:
            continue
        title = sq.entity or ("Findings" if len(brief_subs) == 1 else sq.question)
        body, cites = _section_body(findings, citations)
        sections.append(ReportSection(title=title, content=body, citations=cites))
        lines += [f"## {escape(title)}", "", body, ""]

    references = citations.references()
    lines[2] = _byline(state, data, references)
    lines += ["## Sources", ""]
    lines += [_reference_line(r) for r in references] or ["_No sources were cited._"]
    attributions = sorted({r.attribution for r in references if r.attribution})
    if attributions:
        lines += ["", *(f"_{escape(a)}_" for a in attributions)]
    if data.footer:
        lines += ["", *data.footer]

    summary = [plain(line) for line in data.answer.statements] if data.answer else [f.text for f in key]
    summary_text = " ".join(summary)
    if data.partial_note:
        summary_text = f"Partial report: {data.partial_note} {summary_text}".strip()
    conclusion = _conclusion(summary, references, data)
    return ResearchReport(
        title=state.user_query,
        executive_summary=summary_text,
        introduction=_introduction(state, data),
        methodology=data.methodology or _methodology(state, data),
        sections=sections,
        conclusion=conclusion,
        conclusions=[conclusion],
        references=references,
        metadata=ReportMetadata(
            engine=data.engine,
            partial=data.partial_note is not None,
            source_summary=sorted({document_title(r.title) for r in references}),
            documents_searched=data.documents_searched,
            sources_cited=len({r.source_id for r in references}),
            unsupported_claims=data.unsupported_claims,
        ),
        quality_score=round(sum(1 for sq in brief_subs if by_sub.get(sq.id)) / len(brief_subs), 3)
        if brief_subs
        else 0.0,
        markdown="\n".join(lines).rstrip() + "\n",
    )


def _key_findings(findings: Sequence[Finding], by_sub: dict[str, list[Finding]], state: ResearchState) -> list[Finding]:
    """The best sentence of each sub-question (the best three when there is only one)."""
    per_sub = 3 if len(by_sub) <= 1 else 1
    key: list[Finding] = []
    for sub_findings in by_sub.values():
        ranked = sorted(sub_findings, key=lambda f: (-f.score, f.passage_ids[0]))
        key.extend(ranked[:per_sub])
    return key


def _introduction(state: ResearchState, data: ReportInput) -> str:
    """What was asked and how the engine read it."""
    plan = state.brief.plan if state.brief else None
    subs = state.brief.sub_questions if state.brief else []
    read = f" It was read as a {plan.kind} question ({plan.describe()})." if plan is not None else ""
    parts = (
        f" It was researched as {len(subs)} sub-questions: " + "; ".join(sq.question for sq in subs) + "."
        if len(subs) > 1
        else ""
    )
    return f"The question: {state.user_query}.{read}{parts}"


def _conclusion(summary: Sequence[str], references: Sequence[Reference], data: ReportInput) -> str:
    """A conclusion of its own: the answer in one sentence, and what it rests on."""
    documents = sorted({document_title(r.title) for r in references})
    if not summary:
        return "The searched documents do not answer this question; nothing was cited."
    named = ", ".join(documents[:5]) + (f" and {len(documents) - 5} more" if len(documents) > 5 else "")
    rests = f"{_count(len(references), 'cited passage')} from {_count(len(documents), 'document')} ({named})"
    partial = " The run stopped early, so the evidence is incomplete." if data.partial_note else ""
    return f"In short: {summary[0]} This rests on {rests}.{partial}"


def _answer_sections(answer: AnswerBlock, citations: _Citations) -> list[ReportSection]:
    """The Answer section (its statements, one per line) and the evidence sections after it."""
    cites: list[Citation] = []
    statements = [_render(line, citations, cites) for line in answer.statements]
    found = [ReportSection(title="Answer", content="\n\n".join(statements), citations=cites)]
    for evidence in answer.sections:
        cites = []
        body = [f"- {_render(line, citations, cites)}" for line in evidence.lines]
        if evidence.rows:
            body += [
                "| " + " | ".join(escape(h, line_start=False) for h in evidence.header) + " |",
                "|---" * len(evidence.header) + "|",
            ]
            body += [
                "| " + " | ".join(_render(c, citations, cites, cell=True) for c in row) + " |" for row in evidence.rows
            ]
        found.append(ReportSection(title=evidence.title, content="\n".join(body), citations=cites))
    return found


def _render(line: Line, citations: _Citations, cites: list[Citation], *, cell: bool = False) -> str:
    out: list[str] = []
    for piece in line:
        if isinstance(piece, str):
            out.append(piece)
            continue
        out.append(escape(piece.text, line_start=not out and not cell))
        if piece.cite:
            number = citations.cite(piece.passage_id)
            cites.append(Citation(number=number, passage_id=piece.passage_id, quote=piece.text))
            out.append(f" [{number}]")
    return "".join(out)


def _label(state: ResearchState, finding: Finding, labels: dict[tuple[str, str], str] | None = None) -> str:
    label = labels.get((finding.passage_ids[0], finding.text)) if labels else None
    if label is not None:
        return f"**{escape(label)}:** "
    if state.brief is None or not state.brief.comparison:
        return ""
    entity = next((sq.entity for sq in state.brief.sub_questions if sq.id == finding.sub_question_id), None)
    return f"**{escape(entity)}:** " if entity else ""


def _table(data: ReportInput, citations: _Citations) -> tuple[list[str], list[Citation]]:
    if not data.rows or len(data.columns) < 2:
        return [], []
    lines = ["| | " + " | ".join(escape(c) for c in data.columns) + " |", "|---" * (len(data.columns) + 1) + "|"]
    cites: list[Citation] = []
    for row in data.rows:
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append("–")
                continue
            number = citations.cite(cell.passage.id)
            cites.append(Citation(number=number, passage_id=cell.passage.id, quote=cell.value))
            cells.append(f"{escape(cell.value, line_start=False)} [{number}]")
        lines.append(f"| {escape(row.field, line_start=False)} | " + " | ".join(cells) + " |")
    return lines, cites


def _section_body(findings: Sequence[Finding], citations: _Citations) -> tuple[str, list[Citation]]:
    prose: list[str] = []
    facts: list[str] = []
    cites: list[Citation] = []
    for finding in findings:
        number = citations.cite(finding.passage_ids[0])
        cites.append(Citation(number=number, passage_id=finding.passage_ids[0], quote=finding.quote or finding.text))
        text = f"{escape(finding.text)} [{number}]"
        (facts if is_field_line(finding.text) else prose).append(text)
    parts = [" ".join(prose)] if prose else []
    if facts:
        parts.append("\n".join(f"- {fact}" for fact in facts))
    return "\n\n".join(parts), cites


def _where(title: str, location: PassageLocation) -> str:
    """Page, cell and heading, without a heading the title already names ('Notes — Write-back', not
    'Notes — Write-back, "Write-back"')."""
    heading = location.heading
    if heading and (heading == title or title.endswith(f" — {heading}")):
        location = location.model_copy(update={"heading": None})
    return location.describe()


def _reference_line(ref: Reference) -> str:
    """`1. Title, "Heading" — <url>`; from a user's file `1. Title (`notes/a.md`, p. 3)`: the path as a code span,
    which a front that can open the file turns into a link (`research_nb.export.link_sources`)."""
    text = escape(ref.title)
    where = escape(ref.location) if ref.location else ""
    if ref.path:
        text += f" ({code_span(ref.path)}{', ' + where if where else ''})"
    elif where:
        text += f", {where}"
    url = f" — <{ref.url}>" if ref.url and _safe_url(ref.url) else ""
    return f"{ref.number}. {text}{url}"


def code_span(text: str) -> str:
    """`text` as a Markdown code span, with a fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _safe_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(c in url for c in " <>\"'`")


def _byline(state: ResearchState, data: ReportInput, references: Sequence[Reference]) -> str:
    """What was searched, found and cited. Citations number passages, not documents ([1]-[28] may come from two
    documents), so the byline counts both, as the widget does."""
    scope = data.scope or f"{data.engine.capitalize()} research over {_count(data.documents_searched, 'document')}"
    found = _count(len(state.sources), "document")
    documents = len({r.source_id for r in references})
    cited = f"{_count(len(references), 'passage')} cited from {_count(documents, 'document')}"
    return f"_{scope} · {found} found · {cited} · engine: {data.engine}_"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _methodology(state: ResearchState, data: ReportInput) -> str:
    subs = len(state.brief.sub_questions) if state.brief else 0
    return (
        f"The question was split into {subs} sub-question(s); each was searched with BM25 over "
        f"{data.documents_searched:,} documents, following entities named in the best passages for further "
        f"searches. {len(state.passages)} passages from {len(state.sources)} documents were retrieved. Sentences "
        "were scored against each sub-question, near-duplicates removed, and the report quotes the chosen "
        "sentences verbatim, each with a citation to the passage it comes from."
    )
