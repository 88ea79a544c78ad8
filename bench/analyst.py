"""Analyst questions over the Factbook: does the report answer up front, and on topic?

    .venv/bin/python bench/analyst.py            # about 30 s once the Factbook index is cached

1. The shared development set (`../shared/bench/factbook-analyst/dev.jsonl`, 60 questions of 8 kinds with gold
   answers computed from the Factbook's data), scored in place by its own `score.py` on this checkout: answered
   up front (in the report's Answer section), off-topic share of cited sources, deciding passages cited, seconds.
2. How a question's words find the field they ask about, on paraphrases we wrote ourselves
   (`bench/data/paraphrases.jsonl`: other fields, countries and wordings than the dev set): the field and the
   kind of the plan, matching by the field names alone against field names plus the everyday-English lexicon.

Prints both tables and writes bench/results/analyst.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, print_table, require, write_results
from research_nb.engines.offline._knowledge import Knowledge
from research_nb.engines.offline._plan import plan_question
from research_nb.sources.corpus import Corpus

ANALYST = ROOT.parent / "shared" / "bench" / "factbook-analyst"
PARAPHRASES = ROOT / "bench" / "data" / "paraphrases.jsonl"
KINDS = ("fact", "numeric", "comparison", "superlative", "topn", "trend", "yesno", "list")
#: Kinds whose answers are written alike (one quoted value): a plan of one for a question of another is right.
_ONE_VALUE = frozenset({"fact", "numeric", "list"})


def dev_set() -> dict[str, object]:
    score = require(ANALYST / "score.py")
    questions = require(ANALYST / "dev.jsonl")
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "results.json"
        subprocess.run(
            [sys.executable, str(score), str(questions), "--work", work, "--out", str(out)],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results: dict[str, object] = json.loads(out.read_text())
    per_kind = results["per_kind"]
    overall = results["overall"]
    assert isinstance(per_kind, dict) and isinstance(overall, dict)
    rows = [
        [k, s["n"], s["answered_up_front"], s["attributed_up_front"], s["off_topic_share"], s["gold_passage_cited"],
         s["seconds_median"]]
        for k, s in [*per_kind.items(), ("ALL", overall)]
    ]  # fmt: skip
    print(f"\nAnalyst questions, development split ({overall['n']} questions)")
    print_table(
        ["kind", "n", "answered up front", "attributed", "off-topic share", "deciding passage cited", "s"], rows
    )
    return {"overall": overall, "per_kind": per_kind}


def attributes() -> dict[str, object]:
    knowledge = Knowledge.of(Corpus.open([], builtins=["factbook"]))
    cases = [json.loads(line) for line in require(PARAPHRASES).read_text().splitlines() if line.strip()]
    names_only = sum(_field(case["question"], knowledge, lexicon=False) == case["field"] for case in cases)
    with_lexicon = sum(_field(case["question"], knowledge, lexicon=True) == case["field"] for case in cases)
    kinds = 0
    for case in cases:
        kind = plan_question(case["question"], knowledge.titles, knowledge.facts, knowledge.vocabulary).kind
        kinds += kind == case["kind"] or {kind, case["kind"]} <= _ONE_VALUE
    n = len(cases)
    print(f"\nField asked for, on {n} paraphrased questions of our own")
    print_table(
        ["method", "right field", "share"],
        [
            ["field names only (stemmed terms, idf-weighted)", names_only, names_only / n],
            ["field names + everyday lexicon (the engine's)", with_lexicon, with_lexicon / n],
        ],
    )
    print(f"plan kind right: {kinds} of {n} ({kinds / n:.2f})")
    return {"questions": n, "names_only": names_only / n, "with_lexicon": with_lexicon / n, "kind_right": kinds / n}


def _field(question: str, knowledge: Knowledge, *, lexicon: bool) -> str | None:
    names = [m.name for m in knowledge.titles.mentions(question)]
    match = knowledge.vocabulary.match(question, ignore=names, lexicon=lexicon)
    return match.field if match else None


def main() -> None:
    write_results("analyst", {"dev_set": dev_set(), "attributes": attributes()})


if __name__ == "__main__":
    main()
