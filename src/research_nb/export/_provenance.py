"""What an exported report says about how it was made: engine, model, corpus, options, timings, tokens, cost.

Read from the final `ResearchState`; every line is something the run recorded, never a guess. Options never hold
a secret (keys travel by environment-variable name only), so they are shown whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ValidationError

from research_nb.models.research import ResearchState


class _StageUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = None


class _Usage(BaseModel):
    """The part of `state.metadata["usage"]` (written by engines that call models) shown here."""

    model: str = ""
    stages: dict[str, _StageUsage] = {}


class Provenance(BaseModel):
    request_id: str
    question: str
    status: str
    engine: str
    model: str | None
    corpus: str
    corpus_hash: str | None
    sources: list[str]
    documents_searched: int | None
    options: dict[str, object]
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    stage_seconds: dict[str, float]
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a table, in reading order; what the run did not record is left out."""
        rows = [("Run id", self.request_id), ("Status", self.status), ("Engine", self.engine)]
        rows += [("Model", self.model)] if self.model else []
        rows.append(("Corpus", self.corpus))
        rows += [("Corpus content hash", self.corpus_hash)] if self.corpus_hash else []
        rows += [("Your sources", ", ".join(self.sources))] if self.sources else []
        if self.documents_searched is not None:
            rows.append(("Documents searched", f"{self.documents_searched:,}"))
        if self.started_at is not None:
            rows.append(("Started", self.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")))
        if self.duration_seconds is not None:
            rows.append(("Duration", f"{self.duration_seconds:.2f} s"))
        if self.stage_seconds:
            rows.append(
                ("Stage timings", ", ".join(f"{k.replace('_', ' ')} {v:.2f} s" for k, v in self.stage_seconds.items()))
            )
        if self.input_tokens is not None:
            rows.append(("Tokens", f"{self.input_tokens:,} in, {self.output_tokens or 0:,} out"))
        if self.cost_usd is not None:
            rows.append(("Estimated cost", f"${self.cost_usd:.4f}"))
        rows.append(("Options", ", ".join(f"{k}={v!r}" for k, v in self.options.items())))
        return rows


def provenance(state: ResearchState) -> Provenance:
    options = state.options
    usage = _usage(state.metadata.get("usage"))
    totals = list(usage.stages.values()) if usage is not None else []
    costs = [u.cost_usd for u in totals]
    corpus = state.metadata.get("corpus")
    corpus_info = corpus if isinstance(corpus, Mapping) else {}
    documents = state.metadata.get("documents_searched")
    if not isinstance(documents, int) and state.report is not None:
        documents = state.report.metadata.documents_searched or None
    stages = state.metadata.get("stage_seconds")
    return Provenance(
        request_id=state.request_id,
        question=state.user_query,
        status=state.current_stage.value,
        engine=options.engine,
        model=options.model or (usage.model if usage is not None and usage.model else None),
        corpus=str(corpus_info.get("description") or _corpora(state)),
        corpus_hash=str(corpus_info["content_hash"]) if corpus_info.get("content_hash") else None,
        sources=list(options.sources),
        documents_searched=documents if isinstance(documents, int) else None,
        options=options.model_dump(mode="json", exclude_defaults=True) or {"engine": options.engine},
        started_at=state.started_at,
        completed_at=state.completed_at,
        duration_seconds=state.duration_seconds(),
        stage_seconds={str(k): float(v) for k, v in stages.items() if isinstance(v, int | float)}
        if isinstance(stages, Mapping)
        else {},
        input_tokens=sum(u.input_tokens for u in totals) if totals else None,
        output_tokens=sum(u.output_tokens for u in totals) if totals else None,
        cost_usd=sum(c for c in costs if c is not None) if totals and all(c is not None for c in costs) else None,
    )


def _usage(value: object) -> _Usage | None:
    if not isinstance(value, Mapping):
        return None
    try:
        return _Usage.model_validate(value)
    except ValidationError:  # written by a newer engine in a shape this one does not know: left out
        return None


def _corpora(state: ResearchState) -> str:
    corpora = state.options.corpora
    if corpora is None:
        return "the engine's default corpus" + (" and your sources" if state.options.sources else "")
    return ", ".join(corpora) or "your sources only"
