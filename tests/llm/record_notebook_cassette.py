"""Record the cassette that notebooks/05-llm-replay.ipynb replays (run by hand after a change to the engine's
prompts or outputs: `.venv/bin/python tests/llm/record_notebook_cassette.py`).

The machine that records it has no API key and no network, so the model is the tests' scripted stand-in (which
quotes the passages it is shown, and once states a number the passage does not, to show verification at work), and
Wikipedia and arXiv answer with the recorded payloads in fixtures/. A cassette recorded with a real model and the
real services (`record_to=` on a machine with keys) replays the same way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from llm.scripted import ScriptedLLM, WebLog, web_handler  # noqa: E402
from research_nb.core.workflow import ResearchWorkflow  # noqa: E402
from research_nb.engines.llm import LLMEngine  # noqa: E402
from research_nb.models.research import ResearchOptions  # noqa: E402

QUESTION = "Why are there two high tides a day?"
CASSETTE = ROOT / "notebooks" / "cassettes" / "two-tides.json"
#: What the notebook passes: the replay must ask exactly what the recording asked.
OPTIONS = {"engine": "llm", "model": "scripted:tides-demo", "web": ["wikipedia", "arxiv"], "max_search_results": 6}


async def main() -> None:
    brain = ScriptedLLM(
        [
            ("How do tides form?", ["tide formation", "tidal force"]),
            ("What role does the Moon play?", ["Moon gravity tides"]),
            ("How is tidal energy dissipated?", ["tidal dissipation"]),
        ],
        relevant=True,
        extra_claims=[
            {
                "text": "Most coastal areas experience three high tides each day.",
                "passage_id": "wikipedia:Tide#0",
                "quote": "Most coastal areas experience two high tides and two low tides each day",
            }
        ],
    )
    web = WebLog()
    engine = LLMEngine(
        model=brain.model(), http_transport=lambda: httpx2.MockTransport(web_handler(web)), environ={}, dotenv={}
    )
    flow = ResearchWorkflow()
    flow.engines.register("llm", lambda: engine)
    CASSETTE.unlink(missing_ok=True)
    state = await flow.run(QUESTION, options=ResearchOptions(**OPTIONS, record_to=str(CASSETTE)))  # type: ignore[arg-type]
    print(state.current_stage, state.warnings)
    print(state.report.markdown if state.report else "no report")
    print(f"recorded {brain.calls} and {len(web.requests)} web requests to {CASSETTE.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
