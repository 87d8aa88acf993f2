"""A posture document's text as values: TOML (a file, a fleet source) or JSON (a fleet
source, an environment variable).

One reader for all, so each fails the same way, with the same words: a byte-order
mark, bad TOML or JSON, a number too long to read, nesting deeper than any posture.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from secure_comprehend._errors import PostureError

# A posture nests [regions.R.section] key = [list]: 5 levels. Deeper is never a posture,
# and checking it would recurse without bound (tomllib builds dotted keys a.b.c... flat).
MAX_DEPTH = 16


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a key repeated, in any case, is an error
    (``object_pairs_hook``).

    json.loads keeps the last of two equal keys; a service might read the first, or
    read member names without regard to case.
    """
    value = dict(pairs)
    count = len(pairs)
    if count < 2 or (
        count == len(value)
        and "".join(value).isascii()
        and len(set(map(str.lower, value))) == count
    ):
        return value  # the common case, at C speed: one key, or plain ASCII keys all distinct
    if count != len(value) or _case_twins(value):
        seen, repeated = set(), set()
        for key, _ in pairs:
            repeated.update({key} if key.lower() in seen else set())
            seen.add(key.lower())
        raise ValueError(f"duplicate keys {sorted(repeated)} in a JSON object")
    return value


def _case_twins(keys: Mapping[str, Any]) -> bool:
    """Whether two keys are one under some case mapping a reader might apply (lower,
    upper, casefold: ``VpcConf\\u0131g``, with a dotless i, is ``VpcConfig`` in upper case)."""
    if "".join(keys).isascii():
        return len(set(map(str.lower, keys))) != len(keys)
    return any(
        len(set(map(fold, keys))) != len(keys) for fold in (str.lower, str.upper, str.casefold)
    )


def parse_toml(text: str, subject: str) -> dict[str, Any]:
    """The values of a TOML document; ``subject`` names it in errors ("posture file 'x'").

    Raises:
        PostureError: a byte-order mark, invalid TOML, or nesting deeper than a posture's.
    """
    if sys.version_info >= (3, 11):  # imported here: not on the environment's cold path
        import tomllib
    else:  # Python 3.10 has no tomllib: tomli is the same parser (a dependency there)
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    _refuse_bom(text, subject)
    try:
        values: dict[str, Any] = tomllib.loads(text)
    except RecursionError as exc:
        raise PostureError(f"{subject} is nested too deeply") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PostureError(f"{subject} is not valid TOML: {exc}") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise PostureError(f"{subject} is not valid TOML: a number too long to read") from exc
    check_depth(values, subject)
    return values


def parse_json(text: str, subject: str) -> Any:
    """The value of a JSON text (duplicate keys refused).

    Raises:
        PostureError: a byte-order mark, invalid JSON, or nesting deeper than a posture's.
    """
    _refuse_bom(text, subject)
    try:
        value = json.loads(text, object_pairs_hook=unique_keys)
    except RecursionError as exc:
        raise PostureError(f"{subject} is nested too deeply") from exc
    except ValueError as exc:
        raise PostureError(f"{subject} is not valid JSON: {_short(exc)}") from exc
    check_depth(value, subject)
    return value


def parse_document(text: str, subject: str) -> dict[str, Any]:
    """A fleet document's values: TOML, or JSON when it starts with ``{``.

    Raises:
        PostureError: the text is empty, or neither a TOML nor a JSON table.
    """
    _refuse_bom(text, subject)
    if not text.strip():
        raise PostureError(f"{subject} is empty: it configures nothing")
    if not text.lstrip().startswith("{"):
        return parse_toml(text, subject)
    value = parse_json(text, subject)
    if not isinstance(value, dict):
        raise PostureError(f"{subject} must hold a JSON object")
    return value


def check_depth(value: Any, subject: str) -> None:
    """Refuse tables and lists nested deeper than ``MAX_DEPTH`` (without recursing).

    Raises:
        PostureError: naming ``subject``.
    """
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, (Mapping, list))
            for child in (node.values() if isinstance(node, Mapping) else node)
        ]
        if not level:
            return
    if any(isinstance(node, (Mapping, list)) for node in level):
        raise PostureError(f"{subject} is nested too deeply (a posture nests 5 levels)")


def _short(exc: ValueError) -> str:
    """json's message, without the advice to raise Python's digit limit."""
    text = str(exc)
    return "a number too long to read" if "sys.set_int_max_str_digits" in text else text


def _refuse_bom(text: str, subject: str) -> None:
    if text.startswith("\ufeff"):
        raise PostureError(f"{subject} starts with a byte-order mark: save it as UTF-8 without one")
