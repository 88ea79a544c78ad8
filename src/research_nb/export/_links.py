"""A report's Markdown with its citations `[n]` linked to the n-th item of its Sources, and the user's files
linked where the reader can open them.

Engines write plain Markdown (citations `[1]`, a numbered list under `## Sources`, a user's file as a code span
`` `notes/a.md` ``); the links are added here, by the front that shows or exports the report, so saved reports and
the HTTP API keep the engine's text as it is. Anchor ids are derived from the report's content, so re-running a
notebook gives the same output and two reports on one page do not collide; `place` tells apart copies of one
report shown on the same page.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

from research_nb.models.research import ResearchReport

#: Where a reader can open a user's file, given the path the corpus shows (`notes/a.md`); None: nowhere.
FileLinker = Callable[[str], str | None]

_SOURCES_HEADING = re.compile(r"^##\s+Sources\s*$", re.MULTILINE)
_NEXT_HEADING = re.compile(r"^#{1,2}\s", re.MULTILINE)
# `[3]` or `[3, 5]`, not escaped (`\[3\]` is text from a source) and not already a link (`[3](...)`)
_CITATION = re.compile(r"(?<!\\)\[(\d+(?:\s*,\s*\d+)*)\](?![(\[])")
_SOURCE_ITEM = re.compile(r"^(\d+)\.\s", re.MULTILINE)
# Jupyter renders text between two `$` as LaTeX: "$507 billion [3] | $668 billion" would become one broken formula
_DOLLAR = re.compile(r"(?<!\\)\$")


def anchor_prefix(report: ResearchReport, place: str = "") -> str:
    """The prefix of the ids of a report's source items: `<prefix>-<n>` is the n-th source."""
    return f"rnb-{place}{hashlib.sha1(report.markdown.encode()).hexdigest()[:8]}"


def linked_markdown(
    report: ResearchReport,
    place: str = "",
    *,
    file_link: FileLinker | None = None,
    anchors: bool = True,
    escape_dollars: bool = True,
) -> str:
    """The report's Markdown with citations linked to its Sources list and its files linked by `file_link`.

    `anchors`: put `<a id>` anchors on the source items (for Markdown renderers that keep HTML, as Jupyter's);
    without them the caller gives the items their ids (the HTML export). `escape_dollars`: so that Jupyter shows
    amounts of money as text, not as math."""
    markdown = _DOLLAR.sub(r"\\$", report.markdown) if escape_dollars else report.markdown
    heading = _SOURCES_HEADING.search(markdown)
    if heading is None:
        return markdown
    body, sources = markdown[: heading.start()], markdown[heading.start() :]
    after = _NEXT_HEADING.search(sources, heading.end() - heading.start())
    listing, rest = (sources[: after.start()], sources[after.start() :]) if after else (sources, "")
    prefix = anchor_prefix(report, place)
    numbers = {int(m.group(1)) for m in _SOURCE_ITEM.finditer(listing)}

    def link(match: re.Match[str]) -> str:
        cited = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        if not all(n in numbers for n in cited):
            return match.group(0)
        return "[" + ", ".join(f"[{n}](#{prefix}-{n})" for n in cited) + "]"

    def anchor(match: re.Match[str]) -> str:
        return f'{match.group(1)}. <a id="{prefix}-{match.group(1)}"></a>'

    if file_link is not None:
        listing = _link_files(listing, report, file_link)
    if anchors:
        listing = _SOURCE_ITEM.sub(anchor, listing)
    return _CITATION.sub(link, body) + listing + rest


def cited_numbers(report: ResearchReport) -> set[int]:
    """The citation numbers `[n]` the report's text cites (above its Sources list), as a reader sees them."""
    heading = _SOURCES_HEADING.search(report.markdown)
    body = report.markdown if heading is None else report.markdown[: heading.start()]
    return {int(n) for match in _CITATION.finditer(body) for n in re.split(r"\s*,\s*", match.group(1))}


def _link_files(listing: str, report: ResearchReport, file_link: FileLinker) -> str:
    """Each source item from a user's file gets its path (the code span the engine wrote) linked."""
    lines = listing.split("\n")
    by_number = {ref.number: ref for ref in report.references if ref.path}
    for i, line in enumerate(lines):
        item = _SOURCE_ITEM.match(line)
        ref = by_number.get(int(item.group(1))) if item else None
        if ref is None or ref.path is None:
            continue
        target = file_link(ref.path)
        span = re.search(r"(`+) ?" + re.escape(ref.path) + r" ?\1", line)
        if target is not None and span is not None:
            lines[i] = f"{line[: span.start()]}[{span.group(0)}]({target}){line[span.end() :]}"
    return "\n".join(lines)


def linker_from(directory: Path, sources: Sequence[str] = ()) -> FileLinker:
    """Links, relative to `directory` (the notebook's folder, or the one an export is written to), to the user's
    files that exist. A corpus shows a file as `<folder given>/<path under it>`: it is looked for beside each
    folder the run was given (`sources`), then in the working folder."""
    bases = [Path(os.path.abspath(s)).parent for s in sources if not set(s) & set("*?[")]
    bases.append(Path.cwd())

    def link(path: str) -> str | None:
        file = next((base / path for base in bases if (base / path).is_file()), None)
        if file is None:
            return None
        return quote(Path(os.path.relpath(file, directory)).as_posix())

    return link
