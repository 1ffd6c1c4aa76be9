"""Self-contained HTML pages for the stages' reports: one look, no external assets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

BASE_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { padding: .5rem 1rem; border-radius: 4px; color: #fff; background: #1565c0; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; margin-top: 1rem; }
th, td { border: 1px solid #ddd; padding: .35rem .5rem; vertical-align: top; }
th { background: #f5f5f5; }
img { max-width: 100%; }
"""


def page(
    title: str,
    facts: Mapping[str, str],
    body: Iterable[str],
    *,
    heading_class: str = "",
    style: str = "",
) -> str:
    """A page: a coloured heading, a list of facts, then ``body`` (already escaped HTML)."""
    heading = f' class="{heading_class}"' if heading_class else ""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title><style>{BASE_STYLE}{style}</style></head><body>",
            f"<h1{heading}>{escape(title)}</h1>",
            "<dl>",
            *(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts.items()),
            "</dl>",
            *body,
            "</body></html>",
        ]
    )


def png_image(png: bytes, alt: str) -> str:
    from base64 import b64encode

    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{b64encode(png).decode()}">'
