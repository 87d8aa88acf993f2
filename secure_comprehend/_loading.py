"""load_posture(): the posture from the environment and a TOML file.

A file is read through pydantic-settings' TomlConfigSettingsSource (imported
only then). The environment is read here with pydantic-settings' conventions
(see ``_read_env``), since it is the Lambda cold-start path. Both add the checks
pydantic-settings leaves out: a named file that does not exist, an environment
variable whose name matches no setting, and errors that say which source a bad
value came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from secure_comprehend._errors import PostureError
from secure_comprehend._posture import Posture, describe_invalid, model_type

if TYPE_CHECKING:
    from collections.abc import Iterator

ENV_PREFIX = "SECURE_COMPREHEND_"
CONFIG_VAR = f"{ENV_PREFIX}CONFIG"
DEFAULT_FILES = (
    Path("secure_comprehend.toml"),
    Path("~/.config/secure_comprehend/config.toml"),
    Path("/etc/secure_comprehend/config.toml"),
)


def load_posture(path: str | os.PathLike[str] | None = None) -> Posture:
    """Load the posture from the environment and a TOML file.

    Sources, highest priority first: ``SECURE_COMPREHEND_*`` environment
    variables; the TOML file ``path``, else the one named by
    ``SECURE_COMPREHEND_CONFIG``, else the first that exists of
    ``./secure_comprehend.toml``, ``~/.config/secure_comprehend/config.toml``,
    ``/etc/secure_comprehend/config.toml``.

    Args:
        path: a TOML posture file; it must exist.

    Returns:
        The validated posture.

    Raises:
        PostureError: no source provides a posture, a named file is missing or
            unreadable, a name is unknown, or a value is invalid. The message names
            the field, the value and its source.
    """
    return load_with_sources(path)[0]


def load_with_sources(
    path: str | os.PathLike[str] | None = None,
) -> tuple[Posture, dict[tuple[str, ...], str]]:
    """``load_posture()``, plus where each setting came from (field path -> source)."""
    file = _config_file(path)
    env_values, env_vars = _read_env()
    file_values = _read_toml(file) if file else {}
    merged = _deep_merge(file_values, env_values)
    sources = _leaf_sources(file_values, f"file {file}")
    sources.update({field: f"environment variable {var}" for field, var in env_vars.items()})
    if not merged:
        looked = ", ".join(str(p) for p in DEFAULT_FILES)
        raise PostureError(
            f"no posture found: set {ENV_PREFIX}* variables, {CONFIG_VAR}, or create one of "
            f"{looked}; secure_comprehend never returns an unprotected client"
        )
    try:
        return Posture(**merged), sources
    except PostureError as exc:
        if not isinstance(exc.__cause__, ValidationError):
            raise
        # describe again, now that each value's source is known
        raise PostureError(describe_invalid(exc.__cause__, sources)) from exc.__cause__


def _config_file(path: str | os.PathLike[str] | None) -> Path | None:
    if path is not None:
        named, origin = Path(path), "the path given to load_posture()"
    elif os.environ.get(CONFIG_VAR):
        named, origin = Path(os.environ[CONFIG_VAR]), CONFIG_VAR
    else:
        return next((p for p in (d.expanduser() for d in DEFAULT_FILES) if p.is_file()), None)
    if not named.is_file():
        raise PostureError(f"posture file {str(named)!r} (from {origin}) does not exist")
    return named


def _read_toml(file: Path) -> dict[str, Any]:
    from pydantic_settings import TomlConfigSettingsSource

    try:
        return dict(TomlConfigSettingsSource(_settings_class(), toml_file=file)())
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise PostureError(f"posture file {str(file)!r} is unreadable: {exc}") from exc


def _read_env() -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The environment's settings, and the variable that set each field path.

    Read here rather than through pydantic-settings' EnvSettingsSource, with the
    same conventions (prefix, ``__`` for nesting, case-insensitive names, JSON for
    lists and sections): this is the Lambda cold-start path, and importing
    pydantic-settings costs more than the rest of the library. It also has to
    know every name anyway, to refuse the ones pydantic-settings would ignore.
    """
    known = {var: (path, complex_) for var, path, complex_ in _env_names(Posture)}
    values: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}
    # the more specific variable (VPC__SUBNETS) wins over its section (VPC)
    for var in sorted(v for v in os.environ if v.upper().startswith(ENV_PREFIX)):
        if var == CONFIG_VAR:  # read by _config_file
            continue
        upper = var.upper()
        if upper not in known:
            allowed = ", ".join(sorted(known))
            raise PostureError(
                f"unknown environment variable {var}={os.environ[var]!r}: "
                f"secure_comprehend reads {CONFIG_VAR}, {allowed}"
            )
        path, complex_ = known[upper]
        raw = os.environ[var]
        try:
            value = json.loads(raw) if complex_ else raw
        except ValueError as exc:
            raise PostureError(
                f"environment variable {var}={raw!r} is not JSON ({exc}): lists and sections "
                f"must be JSON, e.g. {ENV_PREFIX}VPC__SUBNETS='[\"subnet-...\"]'"
            ) from exc
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
    return values, names


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


_SETTINGS: list[type[Any]] = []


def _settings_class() -> type[Any]:
    """A BaseSettings twin of Posture: the field map pydantic-settings' sources read."""
    if not _SETTINGS:
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class PostureSettings(BaseSettings, Posture):
            model_config = SettingsConfigDict(extra="forbid")

        _SETTINGS.append(PostureSettings)
    return _SETTINGS[0]


def _deep_merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _leaf_sources(values: Mapping[str, Any], label: str) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for key, value in values.items():
        out[(key,)] = label
        if isinstance(value, Mapping):
            out.update({(key, *p): s for p, s in _leaf_sources(value, label).items()})
    return out
