"""Where a loaded posture came from: its source (file, environment, fleet source),
version and time, and which source set each of its settings (for ``show`` and notebooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where a loaded posture came from: its source, and for a fleet source which version."""

    source: str  # "file ./secure_comprehend.toml", "environment", "ssm:/org/posture"
    region: str | None = None  # the region a fleet source was read in
    version: str | None = None  # a parameter's version, a secret's VersionId, an ETag, ...
    fetched_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __str__(self) -> str:
        from secure_comprehend.posture.show import origin_text

        return origin_text(self.to_dict())

    def to_dict(self) -> dict[str, str | None]:
        return {
            "source": self.source,
            "region": self.region,
            "version": self.version,
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class LoadedFrom:
    """What ``load_posture()`` knows of a posture it made, kept on the posture itself (not
    part of its value: equality, copies and pickles leave it out).

    Attributes:
        sources: where each setting came from (a file, a variable, a fleet source).
        origin: the source, and for a fleet source which version and when.
        live: the fleet source's cache the posture came from, which clients follow.
    """

    sources: Mapping[tuple[str, ...], str]
    origin: Origin
    live: Any = None


def remember_sources(
    posture: Any, sources: Mapping[tuple[str, ...], str], origin: Origin, live: Any = None
) -> None:
    """Record, on a posture ``load_posture()`` made, where it came from."""
    posture._loaded_from = LoadedFrom(dict(sources), origin, live)


def follow(posture: Any, live: Any) -> None:
    """Record that ``posture`` came from the fleet source cache ``live``: clients follow it."""
    found = loaded_from(posture)
    posture._loaded_from = LoadedFrom(
        found.sources if found else {}, found.origin if found else Origin("fleet source"), live
    )


def loaded_from(posture: object) -> LoadedFrom | None:
    """Where ``posture`` was loaded from; None for a posture built in code."""
    found = getattr(posture, "_loaded_from", None)
    return found if isinstance(found, LoadedFrom) else None


def provenance(posture: object) -> Mapping[tuple[str, ...], str]:
    """Where each setting of ``posture`` came from; empty for a posture built in code."""
    found = loaded_from(posture)
    return found.sources if found else {}


def origin_of(posture: object) -> Origin | None:
    """Where ``posture`` was loaded from, and when; None for a posture built in code."""
    found = loaded_from(posture)
    return found.origin if found else None
