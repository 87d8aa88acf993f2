"""The posture's environment variables: ``SECURE_COMPREHEND_*``, read with
pydantic-settings' conventions (prefix, ``__`` for nesting, case-insensitive names,
JSON for lists and sections), and stricter than it: an unknown or misspelt name,
two names for one variable, or a null is an error.

Why not through pydantic-settings' ``EnvSettingsSource``: strictness first. Even with
``extra="forbid"`` it ignores a misspelt ``SECURE_COMPREHEND_MODX`` and silently picks
one of two case twins, which a security posture cannot afford; refusing those means
knowing every name anyway. Then cost: importing it is 20-25 ms of a Lambda cold start
(about 7%). ``tests/test_conformance.py`` checks that these readers follow its
conventions wherever they accept an input.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import PostureError
from secure_comprehend.posture.documents import check_depth, unique_keys
from secure_comprehend.posture.invalid import model_type
from secure_comprehend.posture.model import Posture

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic import BaseModel

ENV_PREFIX = "SECURE_COMPREHEND_"
CONFIG_VAR = f"{ENV_PREFIX}CONFIG"
TTL_VAR = f"{CONFIG_VAR}_TTL"
_NOT_POSTURE = (CONFIG_VAR, TTL_VAR)  # read by posture.loading and fleet.cache


def variable(name: str) -> str | None:
    """The name under which the environment sets ``name``, in any case (names are
    case-insensitive; ``read_env`` refuses two that differ only in case)."""
    return next((v for v in os.environ if v.upper() == name), None)


def read_env() -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The environment's settings, and the variable that set each field path."""
    known = {var: (path, complex_) for var, path, complex_ in _env_names(Posture)}
    _refuse_misspelt_prefixes(known)
    values: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}
    # the more specific variable (VPC__SUBNETS) wins over its section (VPC)
    for var in sorted(_ours(), key=str.upper):
        upper = var.upper()
        if upper in _NOT_POSTURE:  # read by posture.loading, fleet.sources and fleet.cache
            continue
        if upper not in known:
            close = difflib.get_close_matches(upper, [*_NOT_POSTURE, *known], n=1, cutoff=0.8)
            hint = f"did you mean {close[0]}?" if close else f"see {CONFIG_VAR} and the README"
            raise PostureError(f"unknown environment variable {var}={os.environ[var]!r}: {hint}")
        path, complex_ = known[upper]
        value = _value_of(var, path, complex_)
        _place(values, names, path, value, var)
    return values, names


def _refuse_misspelt_prefixes(known: Mapping[str, Any]) -> None:
    """A variable whose prefix is nearly ours and that names one of ours is a typo: refused,
    never ignored. Any other variable (``SECURE_COMPREHENSION_LEVEL``) is not ours."""
    fields = {name.removeprefix(ENV_PREFIX) for name in (*_NOT_POSTURE, *known)}
    for var in os.environ:
        upper = var.upper()
        near = upper[: len(ENV_PREFIX)]
        if near == ENV_PREFIX or difflib.SequenceMatcher(None, near, ENV_PREFIX).ratio() <= 0.85:
            continue
        # the prefix may have lost or gained a letter: any tail that is one of our fields
        field = next((upper[i:] for i in range(len(upper)) if upper[i:] in fields), None)
        if field is not None:
            raise PostureError(
                f"environment variable {var}: did you mean {ENV_PREFIX}{field}? "
                "(a misspelt prefix is never read)"
            )


def _ours() -> list[str]:
    """The environment's ``SECURE_COMPREHEND_*`` names, none twice in different cases."""
    by_upper: dict[str, list[str]] = {}
    for var in os.environ:
        if var.upper().startswith(ENV_PREFIX):
            by_upper.setdefault(var.upper(), []).append(var)
    for twins in by_upper.values():
        if len(twins) > 1:
            raise PostureError(
                f"environment variables {' and '.join(sorted(twins))} differ only in case: "
                "names are case-insensitive, so keep one"
            )
    return [twins[0] for twins in by_upper.values()]


def _value_of(var: str, path: tuple[str, ...], complex_: bool) -> Any:
    """The value of ``var``: its text, or the JSON of a list or section (never null)."""
    raw = os.environ[var]
    try:
        value = json.loads(raw, object_pairs_hook=unique_keys) if complex_ else raw
    except RecursionError as exc:
        raise PostureError(f"environment variable {var} is nested too deeply") from exc
    except ValueError as exc:
        raise PostureError(
            f"environment variable {var}={raw!r} is not JSON ({exc}): lists and sections "
            f"must be JSON, e.g. {ENV_PREFIX}VPC__SUBNETS='[\"subnet-...\"]'"
        ) from exc
    if complex_:
        check_depth(value, f"environment variable {var}")
    if complex_ and len(path) == 1 and value in (None, {}):
        # merged over a file, an empty section would be a silent no-op, null a removal
        raise PostureError(
            f"environment variable {var}={raw!r} makes [{path[0]}] an empty or null "
            "section, which would enforce nothing: set its fields, or unset the variable"
        )
    if _holds_null(value):
        raise PostureError(
            f"environment variable {var}={raw!r} holds null: a variable may add or replace "
            "settings, never remove one; unset the variable or set a value"
        )
    return value


def _place(
    values: dict[str, Any],
    names: dict[tuple[str, ...], str],
    path: tuple[str, ...],
    value: Any,
    var: str,
) -> None:
    """Put ``value`` at ``path`` in ``values``, and credit it (and what it holds) to ``var``."""
    node = values
    for name in path[:-1]:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise PostureError(
                f"environment variable {names[(name,)]} must hold a JSON object, "
                f"not {child!r}, when {var} sets one of its fields"
            )
        node = child
    node[path[-1]] = value
    names[path] = var
    if isinstance(value, Mapping):  # a section variable sets every field it holds
        names.update({(*path, *sub): var for sub in leaf_sources(value, var)})


def _holds_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_null(v) for v in value)
    return value is None


def _env_names(
    model: type[BaseModel], prefix: str = ENV_PREFIX
) -> Iterator[tuple[str, tuple[str, ...], bool]]:
    """Every environment variable the posture understands: name, field path, JSON or not."""
    for name, info in model.model_fields.items():
        var = f"{prefix}{name.upper()}"
        nested = model_type(info.annotation)
        complex_ = nested is not None or _is_collection(info.annotation)
        yield var, (name,), complex_
        if nested is not None and name != "regions":
            for sub, path, sub_complex in _env_names(nested, f"{var}__"):
                yield sub, (name, *path), sub_complex


def _is_collection(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", annotation) in (tuple, list, dict)


def leaf_sources(values: Mapping[str, Any], label: str) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for key, value in values.items():
        out[(key,)] = label
        if isinstance(value, Mapping):
            out.update({(key, *p): s for p, s in leaf_sources(value, label).items()})
    return out
