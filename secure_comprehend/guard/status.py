"""guard_of(): whether a client is protected, and by which posture, for a person to see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secure_comprehend.posture.model import Posture
    from secure_comprehend.posture.origin import Origin


@dataclass(frozen=True)
class GuardStatus:
    """The protection of one client, as it stands now.

    Attributes:
        mode: ``enforce``, ``audit`` or ``observe``.
        region: the client's region.
        posture: the posture in force for the client (for a fleet source, the one its last
            call used); None while a fleet posture cannot be had.
        origin: where that posture came from (its source and, for a fleet source, its
            version); None for a posture built in code.
        problem: why the client's covered calls are refused (no posture for its region,
            or a fleet posture that cannot be had); None when a posture applies.
    """

    mode: str
    region: str
    posture: Posture | None
    origin: Origin | None
    problem: str | None = None

    def __repr__(self) -> str:
        origin = f" from {self.origin}" if self.origin is not None else " built in code"
        problem = f"; {self.problem}" if self.problem else ""
        return f"<guarded: {self.mode} mode in {self.region}{origin}{problem}>"

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table

        rows = [
            ("mode", self.mode),
            ("region", self.region),
            ("posture from", str(self.origin) if self.origin is not None else "built in code"),
        ]
        if self.problem:
            refused = "refused" if self.mode == "enforce" else "would be refused (not in this mode)"
            rows.append((f"covered calls {refused} because", self.problem))
        return html_table("secure_comprehend guard", ("", ""), rows)


def guard_of(client: Any) -> GuardStatus | None:
    """How ``client`` is protected now; None when it is not (any object at all may be asked).

    >>> import boto3, secure_comprehend as sc
    >>> sc.guard_of(boto3.client("comprehend", region_name="us-east-1")) is None  # doctest: +SKIP
    True
    """
    from secure_comprehend.guard.enforcement import guard_for
    from secure_comprehend.posture.origin import Origin, origin_of

    guard = guard_for(client)
    if guard is None:
        return None
    protection, posture, live = guard.protection, guard.posture, guard.live
    origin = origin_of(posture) if posture is not None else None
    if origin is None and live is not None:  # a fleet source that cannot be had: still its
        origin = Origin(str(live.source), live.region)
    return GuardStatus(
        mode=protection.mode,
        region=str(client.meta.region_name),
        posture=posture if protection.posture is not None or live is None else None,
        origin=origin,
        problem=protection.problem,
    )
