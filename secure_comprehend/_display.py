"""Small HTML tables for notebooks (``_repr_html_``): every value escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from secure_comprehend._errors import short_repr


def html_table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A captioned table; strings are shown as they are, other values by a bounded repr."""

    def cell(value: object) -> str:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            value = ", ".join(value)
        return html.escape(value if isinstance(value, str) else short_repr(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (
        f"<table><caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
