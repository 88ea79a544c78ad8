"""A report as one self-contained HTML file: inline CSS, no script, nothing fetched from elsewhere.

The engine's Markdown is rendered with markdown-it (CommonMark and tables) with raw HTML off, so text quoted
from a document can never become markup. Citations `[n]` link to the n-th source, whose list item carries the id;
the user's files are linked relative to the file written; a provenance table closes the page.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt
from markdown_it.token import Token

from research_nb.export._links import FileLinker, anchor_prefix, linked_markdown
from research_nb.export._provenance import provenance
from research_nb.models.research import ResearchReport, ResearchState

_CSS = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --link: #0550ae; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --link: #71b7ff; }
}
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
a { color: var(--link); }
h1 { font-size: 1.7rem; line-height: 1.25; } h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; margin: 1rem 0; } th, td { border: 1px solid var(--line); padding: .3rem .6rem;
  text-align: left; vertical-align: top; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid var(--line); color: var(--muted); }
code { font-size: .9em; }
ol.sources li:target { outline: 2px solid var(--link); }
section.provenance { margin-top: 2.5rem; color: var(--muted); font-size: .9rem; }
section.provenance th { white-space: nowrap; }
"""


def report_html(state: ResearchState, report: ResearchReport, file_link: FileLinker | None = None) -> str:
    """The whole HTML document of `state`'s report."""
    markdown = linked_markdown(report, file_link=file_link, anchors=False, escape_dollars=False)
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = renderer.parse(markdown)
    _number_sources(tokens, anchor_prefix(report))
    body = renderer.renderer.render(tokens, renderer.options, {})
    rows = "\n".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in provenance(state).rows()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="research-nb">\n<title>{escape(report.title)}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}</main>\n"
        f'<section class="provenance">\n<h2>Provenance</h2>\n<table>\n{rows}\n</table>\n</section>\n'
        "</body>\n</html>\n"
    )


def _number_sources(tokens: list[Token], prefix: str) -> None:
    """Give each item of the list under the Sources heading the id its citations link to."""
    in_sources = False
    depth = 0
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            in_sources = tokens[i + 1].content.strip() == "Sources"
        elif in_sources and token.type == "ordered_list_open":
            depth += 1
            if depth == 1:
                token.attrSet("class", "sources")
        elif in_sources and token.type == "ordered_list_close":
            depth -= 1
        elif in_sources and depth == 1 and token.type == "list_item_open" and token.info.isdigit():
            token.attrSet("id", f"{prefix}-{token.info}")
