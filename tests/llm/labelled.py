"""The verifier measured on claims labelled by hand (fixtures/verifier-labelled.json): scripted claims written to
probe each rule (the slips issue 17 saw, and faithful claims and paraphrases that must survive), and claims a real
small model wrote in this project's benchmark runs, each labelled supported or unsupported by reading the passage.

Precision: of the claims the verifier keeps, the share that are supported. Recall: of the supported claims, the
share it keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from research_nb.engines.llm._verify import Claim, ClaimContext, entity_names, verify
from research_nb.models.research import Passage, SubQuestion

LABELLED = Path(__file__).parent / "fixtures" / "verifier-labelled.json"
#: Names beyond the fixture's passages that its claims use (a real run knows every Factbook country).
EXTRA_NAMES = ["Paraguay"]


@dataclass(frozen=True)
class Score:
    items: int
    supported: int
    kept: int
    kept_supported: int
    mistakes: list[dict[str, Any]]

    @property
    def precision(self) -> float:
        return self.kept_supported / self.kept if self.kept else 1.0

    @property
    def recall(self) -> float:
        return self.kept_supported / self.supported if self.supported else 1.0


def score(origin: str | None = None) -> Score:
    data = json.loads(LABELLED.read_text(encoding="utf-8"))
    passages = {pid: Passage(**p) for pid, p in data["passages"].items()}
    names = [*entity_names(p.title for p in passages.values()), *EXTRA_NAMES]
    items = [i for i in data["items"] if origin is None or i["origin"] == origin]
    supported = kept = kept_supported = 0
    mistakes = []
    for item in items:
        claim = Claim(
            text=item["claim"],
            passage_id=item["passage_id"],
            quote=item["quote"] or "",
            second_passage_id=item.get("second_passage_id", ""),
            second_quote=item.get("second_quote", ""),
        )
        if item.get("sub_question"):
            sq = SubQuestion(id="sq-1", question=item["sub_question"], entity=item.get("entity"))
            context = ClaimContext.under(sq, names)
        else:
            context = ClaimContext(entities=names)
        verdict = verify(claim, passages, context)
        truth = item["label"] == "supported"
        supported += truth
        kept += verdict.supported
        kept_supported += truth and verdict.supported
        if truth != verdict.supported:
            mistakes.append({**item, "verifier": verdict.problem})
    return Score(len(items), supported, kept, kept_supported, mistakes)
