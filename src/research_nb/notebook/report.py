"""Showing a report in a notebook: its Markdown with each citation `[n]` linked to the n-th item of its Sources.

Engines write plain Markdown (citations `[1]`, a numbered list under `## Sources`); the links are added here, at
display time, so saved reports and the HTTP API keep the engine's text as it is. Anchor ids are derived from the
report's content, so re-running a notebook gives the same output and two reports in one notebook do not collide;
the copy under the widget and the one in a cell of its own get different ids (`place`), so each links to itself.
"""

from __future__ import annotations

import hashlib
import re

from IPython.display import Markdown

from research_nb.models.research import ResearchReport

_SOURCES_HEADING = re.compile(r"^##\s+Sources\s*$", re.MULTILINE)
_NEXT_HEADING = re.compile(r"^#{1,2}\s", re.MULTILINE)
# `[3]` or `[3, 5]`, not escaped (`\[3\]` is text from a source) and not already a link (`[3](...)`)
_CITATION = re.compile(r"(?<!\\)\[(\d+(?:\s*,\s*\d+)*)\](?![(\[])")
_SOURCE_ITEM = re.compile(r"^(\d+)\.\s", re.MULTILINE)
# Jupyter renders text between two `$` as LaTeX: "$507 billion [3] | $668 billion" would become one broken formula
_DOLLAR = re.compile(r"(?<!\\)\$")


def linked_markdown(report: ResearchReport, place: str = "") -> str:
    """The report's Markdown with citations linked to anchors on its Sources list, and dollar signs escaped so
    that Jupyter shows amounts of money as text, not as math."""
    markdown = _DOLLAR.sub(r"\\$", report.markdown)
    heading = _SOURCES_HEADING.search(markdown)
    if heading is None:
        return markdown
    body, sources = markdown[: heading.start()], markdown[heading.start() :]
    after = _NEXT_HEADING.search(sources, heading.end() - heading.start())
    listing, rest = (sources[: after.start()], sources[after.start() :]) if after else (sources, "")
    prefix = f"rnb-{place}{hashlib.sha1(report.markdown.encode()).hexdigest()[:8]}"
    numbers = {int(m.group(1)) for m in _SOURCE_ITEM.finditer(listing)}

    def link(match: re.Match[str]) -> str:
        cited = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        if not all(n in numbers for n in cited):
            return match.group(0)
        return "[" + ", ".join(f"[{n}](#{prefix}-{n})" for n in cited) + "]"

    def anchor(match: re.Match[str]) -> str:
        return f'{match.group(1)}. <a id="{prefix}-{match.group(1)}"></a>'

    return _CITATION.sub(link, body) + _SOURCE_ITEM.sub(anchor, listing) + rest


def cited_numbers(report: ResearchReport) -> set[int]:
    """The citation numbers `[n]` the report's text cites (above its Sources list), as a reader sees them."""
    heading = _SOURCES_HEADING.search(report.markdown)
    body = report.markdown if heading is None else report.markdown[: heading.start()]
    return {int(n) for match in _CITATION.finditer(body) for n in re.split(r"\s*,\s*", match.group(1))}


def report_display(report: ResearchReport, place: str = "") -> Markdown:
    """An IPython display object for the report (rendered as Markdown by Jupyter); `place` tells apart the ids
    of copies of one report shown in different places."""
    return Markdown(linked_markdown(report, place))  # type: ignore[no-untyped-call]
