"""Where a loaded posture came from: its source (file, environment, fleet source),
version and time, and which source set each of its settings (for ``show`` and notebooks).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone


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


# id(posture) -> where each of its settings came from, for postures load_posture() made
# (kept beside the posture, not in it: a Posture is an immutable pydantic value)
_PROVENANCE: dict[int, tuple[Mapping[tuple[str, ...], str], Origin]] = {}


def remember_sources(
    posture: object, sources: Mapping[tuple[str, ...], str], origin: Origin
) -> None:
    """Record where a loaded posture's settings came from (shown by str() and notebooks)."""
    _PROVENANCE[id(posture)] = (dict(sources), origin)
    weakref.finalize(posture, _PROVENANCE.pop, id(posture), None)


def provenance(posture: object) -> Mapping[tuple[str, ...], str]:
    """Where each setting of ``posture`` came from; empty for a posture built in code."""
    return _PROVENANCE.get(id(posture), ({}, None))[0]


def origin_of(posture: object) -> Origin | None:
    """Where ``posture`` was loaded from, and when; None for a posture built in code."""
    return _PROVENANCE.get(id(posture), ({}, None))[1]
