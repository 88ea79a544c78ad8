"""The README is the front door and `docs/` the reference: what a reader follows from them must exist, and the
options page must list every research flag the fronts take. (`make docs` builds docs/ with --strict, so a broken
link or anchor inside the docs fails `make test` too.)"""

from __future__ import annotations

import re
from pathlib import Path

from research_nb.core.flags import RESEARCH_FLAGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_front_door_whose_links_all_lead_somewhere() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    targets = [t for t in LINK.findall(text) if "://" not in t]
    assert "docs/images/widget-and-report.png" in targets
    assert {"docs/options.md", "docs/notebook.md", "docs/performance.md"} <= set(targets)
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == []
    assert "pip install research-nb" in text and "'research-nb[llm]'" in text


def test_the_readmes_two_commands_are_the_ones_the_makefile_and_ci_run() -> None:
    text = README.read_text()
    assert "make run " in text and "make test " in text
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bdocs\b", makefile, re.M)  # the docs build is part of the test command
    assert "mkdocs build --strict" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_options_page_names_every_research_flag() -> None:
    page = (ROOT / "docs" / "options.md").read_text()
    for flag in RESEARCH_FLAGS:
        for spelling in flag.names:
            assert f"`{spelling}" in page or f"also `{spelling}`" in page, spelling
        assert f"`{flag.field}" in page or flag.field == "budget", flag.field
    assert "`--no-small-model`" in page and "`budget_tokens`" in page
