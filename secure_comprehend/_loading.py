"""load_posture(): the posture from the environment and a TOML file.

A file is read through pydantic-settings' TomlConfigSettingsSource (imported
only then). The environment is read here with pydantic-settings' conventions
(see ``_read_env``), since it is the Lambda cold-start path. Both add the checks
pydantic-settings leaves out: a named file that does not exist, an environment
variable whose name matches no setting, and errors that say which source a bad
value came from.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from secure_comprehend._errors import PostureError
from secure_comprehend._invalid import describe_invalid, model_type
from secure_comprehend._posture import (
    EffectivePosture,
    Origin,
    Posture,
    origin_of,
    remember_sources,
    require_posture,
)
from secure_comprehend._wire import unique_keys

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3

    from secure_comprehend._fleet import Fetched, FleetSource

ENV_PREFIX = "SECURE_COMPREHEND_"
CONFIG_VAR = f"{ENV_PREFIX}CONFIG"
_NOT_POSTURE = (CONFIG_VAR, f"{CONFIG_VAR}_TTL")
DEFAULT_FILES = (
    Path("secure_comprehend.toml"),
    Path("~/.config/secure_comprehend/config.toml"),
    Path("/etc/secure_comprehend/config.toml"),
)


def load_posture(
    source: str | os.PathLike[str] | None = None,
    *,
    session: boto3.Session | None = None,
    region_name: str | None = None,
) -> Posture:
    """Load the posture from the environment and a TOML file or fleet source.

    Sources, highest priority first: ``SECURE_COMPREHEND_*`` environment
    variables; then ``source``, else the one named by ``SECURE_COMPREHEND_CONFIG``,
    else the first file that exists of ``./secure_comprehend.toml``,
    ``~/.config/secure_comprehend/config.toml``, ``/etc/secure_comprehend/config.toml``.

    A source is a TOML file, or a fleet source holding the same TOML (or its JSON
    equivalent): ``ssm:/path/name``, ``secretsmanager:name-or-arn``,
    ``appconfig:application/environment/profile`` or ``s3://bucket/key``. A fleet
    source is fetched once per process and region and kept for
    ``SECURE_COMPREHEND_CONFIG_TTL`` seconds (300); clients protected with its
    posture follow it when it changes (see the README).

    Args:
        source: a TOML posture file (it must exist), or a fleet source.
        session: the boto3 session that reads a fleet source; ``None`` uses boto3's
            default session.
        region_name: the region to read a fleet source in; ``None`` uses the session's
            (an ARN's region wins over both).

    Returns:
        The validated posture.

    Raises:
        PostureError: no source provides a posture, a named file is missing or
            unreadable, a fleet source cannot be read, a name is unknown, or a value
            is invalid. The message names the field, the value and its source.
    """
    return load_with_sources(source, session=session, region=region_name)[0]


def posture_or_load(
    posture: object, session: boto3.Session | None = None, region: str | None = None
) -> Posture:
    """``posture`` if it is a ``Posture``; ``None`` loads one with ``load_posture()``.

    Raises:
        TypeError: ``posture`` is something else (a dict, say).
        PostureError: as ``load_posture()``.
    """
    if posture is None:
        return load_posture(session=session, region_name=region)
    return require_posture(posture)


def load_with_sources(
    path: str | os.PathLike[str] | None = None,
    origin: str = "the source given to load_posture()",
    session: boto3.Session | None = None,
    region: str | None = None,
) -> tuple[Posture, Mapping[tuple[str, ...], str]]:
    """``load_posture()``, plus where each setting came from (field path -> source).

    ``origin`` names where ``path`` came from, for errors (``--config``, say).
    """
    env = _read_env()  # first: it refuses two names for one variable, and misspelt names
    fleet = _fleet_source(path, origin)
    if fleet is not None:
        from secure_comprehend._live import live_source

        live = live_source(fleet, session or _default_session(), region, _from_fetched)
        loaded = live.load()
        return loaded.posture, loaded.sources
    file = _config_file(path, origin)
    file_values = _read_toml(file) if file else {}
    if file is not None and not file_values:
        raise PostureError(f"posture file {str(file)!r} is empty: it configures nothing")
    posture, sources = _assemble(file_values, f"file {file}", env)
    remember_sources(posture, sources, Origin(f"file {file}" if file else "environment"))
    return posture, sources


def _from_fetched(fetched: Fetched) -> tuple[Posture, Mapping[tuple[str, ...], str]]:
    """A fleet document's posture, under the environment's variables (read anew)."""
    if not fetched.values:  # never "no posture found", never only the variables
        raise PostureError(
            f"posture source {fetched.label} holds no settings: it configures nothing"
        )
    posture, sources = _assemble(fetched.values, fetched.label)
    origin = Origin(str(fetched.source), fetched.region, fetched.version, fetched.fetched_at)
    remember_sources(posture, sources, origin)
    return posture, sources


def _assemble(
    document: Mapping[str, Any],
    label: str,
    env: tuple[dict[str, Any], dict[tuple[str, ...], str]] | None = None,
) -> tuple[Posture, dict[tuple[str, ...], str]]:
    """The posture of a document (file or fleet) with the environment's variables over it."""
    env_values, env_vars = env if env is not None else _read_env()
    merged = _deep_merge(document, env_values)
    sources = _leaf_sources(document, label)
    sources.update({field: f"environment variable {var}" for field, var in env_vars.items()})
    if not merged:
        looked = ", ".join(str(p) for p in DEFAULT_FILES)
        raise PostureError(
            f"no posture found: set {ENV_PREFIX}* variables, {CONFIG_VAR}, or create one of "
            f"{looked}; secure_comprehend never returns an unprotected client"
        )
    try:
        posture = Posture(**merged)
    except PostureError as exc:
        if not isinstance(exc.__cause__, ValidationError):
            raise
        # describe again, now that each value's source is known
        raise PostureError(describe_invalid(exc.__cause__, Posture, sources)) from exc.__cause__
    return posture, sources


def _default_session() -> boto3.Session:
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION  # type: ignore[return-value]


def _fleet_source(path: str | os.PathLike[str] | None, origin: str) -> FleetSource | None:
    """The fleet source that ``path`` or ``SECURE_COMPREHEND_CONFIG`` names, if any."""
    if path is None and (var := _config_var()) is not None:
        path, origin = os.environ[var], f"environment variable {var}"
    if not isinstance(path, str):  # a PathLike is a file, whatever its name looks like
        return None
    from secure_comprehend._fleet import FleetSource

    return FleetSource.parse(path, origin)


def _config_file(path: str | os.PathLike[str] | None, origin: str) -> Path | None:
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        named = Path(path)
    elif (var := _config_var()) is not None:
        named, origin = Path(os.environ[var]), f"environment variable {var}"
        if not os.environ[var].strip():
            # an empty value is a mistake, not "look elsewhere": never load another file
            raise PostureError(
                f"{CONFIG_VAR} is set but empty: name a posture file, or unset it to look in "
                f"{', '.join(str(p) for p in DEFAULT_FILES)}"
            )
    else:
        return _default_file()
    problem = _not_a_file(named)
    if problem:
        raise PostureError(f"posture file {str(named)!r} (from {origin}) {problem}")
    return named


def _default_file() -> Path | None:
    """The first default location that holds something; it must be a regular file."""
    for default in DEFAULT_FILES:
        try:
            candidate = default.expanduser()
        except RuntimeError:  # no HOME and no passwd entry (a container's --user N)
            continue
        if candidate.is_symlink() or candidate.exists():
            problem = _not_a_file(candidate)
            if problem:  # present but unusable: never fall through to the next location
                raise PostureError(f"posture file {str(candidate)!r} (default location) {problem}")
            return candidate
    return None


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a posture file, or None."""
    if path.is_dir():
        return "is a directory"
    if not path.exists():
        return "is a broken symbolic link" if path.is_symlink() else "does not exist"
    if not path.is_file():  # pydantic-settings would read a pipe or device as empty
        return "is not a regular file (a pipe or a device): write the posture to a file"
    return None


def _config_var() -> str | None:
    """The name under which the environment sets the config file, in any case."""
    return next((v for v in os.environ if v.upper() == CONFIG_VAR), None)


def _read_toml(file: Path) -> dict[str, Any]:
    from pydantic_settings import TomlConfigSettingsSource

    try:
        return dict(TomlConfigSettingsSource(_settings_class(), toml_file=file)())
    except UnicodeDecodeError as exc:
        raise PostureError(f"posture file {str(file)!r} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PostureError(f"posture file {str(file)!r} cannot be read: {reason}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError
        bom = " (it starts with a byte-order mark: save it as UTF-8 without one)"
        hint = bom if file.read_bytes().startswith(b"\xef\xbb\xbf") else ""
        raise PostureError(f"posture file {str(file)!r} is not valid TOML{hint}: {exc}") from exc


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
    ours = [v for v in os.environ if v.upper().startswith(ENV_PREFIX)]
    for var in os.environ:
        near = var.upper()[: len(ENV_PREFIX)]
        if near != ENV_PREFIX and difflib.SequenceMatcher(None, near, ENV_PREFIX).ratio() > 0.85:
            upper = var.upper()
            meant = next(
                (
                    f"{ENV_PREFIX}{upper[i:]}"
                    for i in range(len(upper))
                    if f"{ENV_PREFIX}{upper[i:]}" in {*_NOT_POSTURE, *known}
                ),
                f"a {ENV_PREFIX}* name",
            )
            raise PostureError(
                f"environment variable {var}: did you mean {meant}? "
                "(a misspelt prefix is never read)"
            )
    by_upper: dict[str, list[str]] = {}
    for var in ours:
        by_upper.setdefault(var.upper(), []).append(var)
    for twins in by_upper.values():
        if len(twins) > 1:
            raise PostureError(
                f"environment variables {' and '.join(sorted(twins))} differ only in case: "
                "names are case-insensitive, so keep one"
            )
    # the more specific variable (VPC__SUBNETS) wins over its section (VPC)
    for var in sorted(ours, key=str.upper):
        upper = var.upper()
        if upper in _NOT_POSTURE:  # read by _config_file, _fleet_source and _live
            continue
        if upper not in known:
            close = difflib.get_close_matches(upper, [*_NOT_POSTURE, *known], n=1, cutoff=0.8)
            hint = f"did you mean {close[0]}?" if close else f"see {CONFIG_VAR} and the README"
            raise PostureError(f"unknown environment variable {var}={os.environ[var]!r}: {hint}")
        path, complex_ = known[upper]
        raw = os.environ[var]
        try:
            value = json.loads(raw, object_pairs_hook=unique_keys) if complex_ else raw
        except ValueError as exc:
            raise PostureError(
                f"environment variable {var}={raw!r} is not JSON ({exc}): lists and sections "
                f"must be JSON, e.g. {ENV_PREFIX}VPC__SUBNETS='[\"subnet-...\"]'"
            ) from exc
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
            names.update({(*path, *sub): var for sub in _leaf_sources(value, var)})
    return values, names


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


_SETTINGS: list[type[Any]] = []


def _settings_class() -> type[Any]:
    """A BaseSettings twin of Posture: the field map pydantic-settings' sources read."""
    if not _SETTINGS:
        from pydantic_settings import BaseSettings, SettingsConfigDict

        class PostureSettings(BaseSettings, Posture):
            # exact keys: "MODE =" is an unknown key, not a second "mode"
            model_config = SettingsConfigDict(extra="forbid", case_sensitive=True)

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


def account_view(
    posture: object, session: Any, region_name: str | None
) -> tuple[Any, str, EffectivePosture, Origin | None]:
    """What a read-only account check starts from: a session, its region, the posture
    there, and where the posture was loaded from.

    Args:
        posture: a Posture, or None to load one.
        session: a boto3 session, or None for a new one in ``region_name``.
        region_name: the region, or None for the session's.

    Raises:
        PostureError: no region, or no valid posture for it.
        TypeError: ``posture`` is not a Posture.
    """
    import boto3

    session = session or boto3.Session(region_name=region_name)
    checked = posture_or_load(posture, session)
    region = region_name or session.region_name
    if not region:
        raise PostureError("no region: pass region_name or configure one for the session")
    return session, str(region), checked.effective(region), origin_of(checked)
