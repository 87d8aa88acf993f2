"""How values are shown: a bounded repr, and small HTML tables for notebooks (escaped)."""

from __future__ import annotations

import html
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlevel = 4
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = 20


def short_repr(value: Any) -> str:
    """A bounded repr: a 2 KB bogus key or a deeply nested value must not drown a message."""
    return _REPR.repr(value)


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
