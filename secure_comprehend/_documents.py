"""A posture document's text as values: TOML (a file, a fleet source) or JSON (a fleet source).

One reader for both, so a file and a fleet document fail the same way, with the
same words: a byte-order mark, bad TOML or JSON, nesting too deep for the parser.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from secure_comprehend._errors import PostureError
from secure_comprehend._wire import unique_keys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib: tomli is the same parser (a dependency there)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


def parse_toml(text: str, subject: str) -> dict[str, Any]:
    """The values of a TOML document; ``subject`` names it in errors ("posture file 'x'").

    Raises:
        PostureError: a byte-order mark, invalid TOML, or nesting too deep to parse.
    """
    _refuse_bom(text, subject)
    try:
        values: dict[str, Any] = tomllib.loads(text)
    except RecursionError as exc:
        raise PostureError(f"{subject} is nested too deeply") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PostureError(f"{subject} is not valid TOML: {exc}") from exc
    return values


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
    try:
        value = json.loads(text, object_pairs_hook=unique_keys)
    except RecursionError as exc:
        raise PostureError(f"{subject} is nested too deeply") from exc
    except ValueError as exc:
        raise PostureError(f"{subject} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PostureError(f"{subject} must hold a JSON object")
    return value


def _refuse_bom(text: str, subject: str) -> None:
    if text.startswith("\ufeff"):
        raise PostureError(f"{subject} starts with a byte-order mark: save it as UTF-8 without one")
