"""Posture validation errors in the posture's own words: field, value, source, fix.

Each mistake once, no pydantic wording, and a "did you mean" for a misspelt key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from secure_comprehend._display import short_repr
from secure_comprehend.posture.show import source_of

_PLAIN = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)  # field names, region names


def describe_invalid(
    exc: ValidationError,
    root: type[BaseModel],
    sources: Mapping[tuple[str, ...], str],
    default: str = "defaults",
) -> str:
    """Every validation error once, as one line: field, value, source, what is allowed."""
    errors = [
        (tuple(str(p) for p in error["loc"] if p != "[key]"), error) for error in exc.errors()
    ]
    lines = []
    for loc, error in errors:
        # a list whose items were refused is not also "too short" (pydantic drops them)
        if error["type"] == "too_short" and any(
            other[: len(loc)] == loc and len(other) > len(loc) for other, _ in errors
        ):
            continue
        source = _source_of(loc, sources, default)
        field_name = "".join(_part(p) for p in loc).lstrip(".")
        value = "" if error["type"] == "missing" else f" = {short_repr(error['input'])}"
        lines.append(
            f"  - {field_name or 'posture'}{value} (from {source}): {_message(root, loc, error)}"
        )
    return f"invalid posture ({len(lines)} error(s)):\n" + "\n".join(lines)


def _part(key: str) -> str:
    """One step of a field's path: a key as written, or quoted if it is not a plain name
    (a key with a newline or an escape must not forge lines in an error)."""
    if key.isdigit():
        return f"[{key}]"
    return f".{key}" if _PLAIN.fullmatch(key) else f".{key!r}"


def _source_of(loc: tuple[str, ...], sources: Mapping[tuple[str, ...], str], default: str) -> str:
    """Who set ``loc``: the longest prefix a source set, else every source of its fields."""
    found = source_of(loc, sources, "")
    if found:
        return found
    below = sorted({s for path, s in sources.items() if path[: len(loc)] == loc and loc})
    return " and ".join(below) or default


def _message(root: type[BaseModel], loc: tuple[str, ...], error: Any) -> str:
    """An error in the posture's own words: no pydantic type names."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        return _unknown_key(loc[-1], _fields_at(root, loc[:-1]))
    if kind == "missing":
        return "missing: this section needs it"
    if kind == "too_short":
        return f"must hold at least {ctx['min_length']} item(s), not {ctx['actual_length']}"
    if kind == "too_long":
        return f"must hold at most {ctx['max_length']} items, not {ctx['actual_length']}"
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table of keys (a section)"
    if kind == "string_type":
        return "must be text"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message.replace("Input should be", "must be")


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; allowed here: {', '.join(allowed)}"


def _fields_at(root: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """The field names of the posture section at ``loc``."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            break
        info = model.model_fields.get(part)
        # a region name under "regions" keeps the RegionSettings found for "regions"
        if info is not None:
            model = model_type(info.annotation)
    return sorted(model.model_fields) if model else []


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation (``X | None``, ``dict[str, X]``), if any."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
