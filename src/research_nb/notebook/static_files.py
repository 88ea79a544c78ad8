"""The widgets' browser code, as anywidget loads it: one ES module per widget, given as a string, so the DOM
helpers both widgets use (`static/dom.js`) are put before each widget's own code rather than imported."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
#: Both widgets' styles (`rnb-*` classes, JupyterLab's theme variables).
STYLES = STATIC / "widget.css"


def widget_module(name: str) -> str:
    """The ES module of the widget whose code is `static/<name>`, with the shared helpers before it."""
    return "\n".join((STATIC / part).read_text(encoding="utf-8") for part in ("dom.js", name))
