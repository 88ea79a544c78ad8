"""Launch the real app under uvicorn on 127.0.0.1 with a free port, the scripted test engine registered.

    python tests/api/http_server.py [--as-default]

It serves the same import string `research-nb serve` uses. Uvicorn logs the port it got ("Uvicorn running on
http://127.0.0.1:PORT"), which is how the tests find it. `--as-default` also registers the scripted engine under the
name of every installed engine ("offline", "llm"), so that the runs a fuzzer starts, whatever engine they name,
stay cheap and need no key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for engines_for_tests

from http_engine import ENGINE_NAME, ScriptedEngine

from research_nb.core.workflow import workflow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as-default", action="store_true")
    args = parser.parse_args()
    workflow.engines.register(ENGINE_NAME, ScriptedEngine)
    if args.as_default:
        for name in workflow.engines.names():
            workflow.engines.register(name, ScriptedEngine)
    uvicorn.run("research_nb.api.main:app", host="127.0.0.1", port=0, log_level="info")


if __name__ == "__main__":
    main()
