"""A report as PDF: the HTML export printed by WeasyPrint (the optional extra `pdf-export`).

WeasyPrint lays out the same self-contained HTML (tables, links to the sources, the provenance table); it needs
Pango on the system (Debian: libpango-1.0-0 and libpangoft2-1.0-0, installed with most desktops and by `make
setup-export`). Imported when a PDF is asked for, so that nothing else waits on it.
"""

from __future__ import annotations

from pathlib import Path

from research_nb.core.errors import MissingDependencyError

_PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { max-width: none; margin: 0; font-size: 10.5pt; }
:root { --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --link: #0550ae; }
"""


def write_pdf(html: str, path: Path) -> None:
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # the extra is missing, or Pango is (WeasyPrint says which in its message)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MissingDependencyError(
            f"PDF export needs the pdf-export extra: pip install 'research-nb[pdf-export]' ({first})"
        ) from None
    HTML(string=html, base_url=str(path.parent)).write_pdf(path, stylesheets=[CSS(string=_PRINT_CSS)])
