"""load_posture(): the posture from the environment, and a TOML file or fleet source.

A file is read with tomllib, or as JSON when its name ends in ``.json``
(``posture.documents``, which reads fleet documents too);
a fleet source through ``fleet.cache`` and ``fleet.read``; the environment by ``posture.env``.
A named file that does not exist or is not a regular file is an error, and
every error says which source a bad value came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from secure_comprehend._errors import PostureError
from secure_comprehend.posture.documents import parse_json, parse_toml
from secure_comprehend.posture.env import CONFIG_VAR, ENV_PREFIX, leaf_sources, read_env, variable
from secure_comprehend.posture.invalid import describe_invalid
from secure_comprehend.posture.model import EffectivePosture, Posture, require_posture
from secure_comprehend.posture.origin import Origin, origin_of, remember_sources

if TYPE_CHECKING:
    import boto3

    from secure_comprehend.posture.fleet.read import Fetched
    from secure_comprehend.posture.fleet.sources import FleetSource

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
    if session is not None:
        from boto3.session import Session

        if not isinstance(session, Session):  # an AioSession, a botocore session
            raise TypeError(
                f"session must be a boto3.Session (it reads a fleet source), not "
                f"{type(session).__module__}.{type(session).__name__}; for an async client "
                "pass posture=sc.load_posture(source, session=boto3.Session(...))"
            )
    env = read_env()  # first: it refuses two names for one variable, and misspelt names
    fleet = _fleet_source(path, origin)
    if fleet is not None:
        from secure_comprehend.posture.fleet.cache import live_source

        live = live_source(fleet, session or default_session(), region, _from_fetched)
        loaded = live.load()
        return loaded.posture, loaded.sources
    file = _config_file(path, origin)
    file_values = _read_file(file) if file else {}
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
    env_values, env_vars = env if env is not None else read_env()
    merged = _deep_merge(document, env_values)
    sources = leaf_sources(document, label)
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
        # what no single value caused (a posture that configures nothing) is the document's
        default = label if document else "defaults"
        raise PostureError(describe_invalid(exc.__cause__, Posture, sources, default)) from (
            exc.__cause__
        )
    return posture, sources


def default_session() -> boto3.Session:
    """boto3's default session, set up as ``boto3.client()`` would."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION  # type: ignore[return-value]


def _fleet_source(path: str | os.PathLike[str] | None, origin: str) -> FleetSource | None:
    """The fleet source that ``path`` or ``SECURE_COMPREHEND_CONFIG`` names, if any."""
    if path is None and (var := variable(CONFIG_VAR)) is not None:
        path, origin = os.environ[var], f"environment variable {var}"
    if not isinstance(path, str):  # a PathLike is a file, whatever its name looks like
        return None
    if ":" not in path:  # no scheme, no ARN: a file (and no fleet code to import)
        return None
    from secure_comprehend.posture.fleet.sources import FleetSource

    return FleetSource.parse(path, origin)


def _config_file(path: str | os.PathLike[str] | None, origin: str) -> Path | None:
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        if isinstance(path, str) and not path.strip():  # Path("") is ".", the directory
            raise PostureError(f"posture file {path!r} (from {origin}) is empty: name a file")
        named = Path(path)
    elif (var := variable(CONFIG_VAR)) is not None:
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
        try:
            present = candidate.is_symlink() or candidate.exists()
        except OSError:  # a directory on the way we may not enter: as os.path.exists, absent
            continue
        if present:
            problem = _not_a_file(candidate)
            if problem:  # present but unusable: never fall through to the next location
                raise PostureError(f"posture file {str(candidate)!r} (default location) {problem}")
            return candidate
    return None


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a posture file, or None."""
    try:
        if path.is_dir():
            return "is a directory"
        if not path.exists():
            return "is a broken symbolic link" if path.is_symlink() else "does not exist"
        if not path.is_file():  # a pipe or device would block, or read as empty
            return "is not a regular file (a pipe or a device): write the posture to a file"
    except OSError as exc:  # a directory on the way we may not enter, a name too long
        return f"cannot be read: {exc.strerror or exc}"
    return None


def _read_file(file: Path) -> dict[str, Any]:
    """A posture file's values: JSON when its name ends in ``.json`` (never by its
    content), else TOML."""
    subject = f"posture file {str(file)!r}"
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PostureError(f"{subject} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise PostureError(f"{subject} cannot be read: {exc.strerror or exc}") from exc
    if file.suffix.lower() != ".json":
        return parse_toml(text, subject)
    if not text.strip(" \t\r\n"):  # empty: refused as every empty posture file is
        return {}
    opening = text.lstrip("\ufeff \t\r\n")[:1]
    value = parse_json(text, subject) if opening == "{" else None  # a BOM, repeated keys...
    if not isinstance(value, dict):
        raise PostureError(
            f"{subject} must hold a JSON object ({{...}}): a file named *.json is read as "
            "JSON, any other as TOML"
        )
    return value


def _deep_merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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
