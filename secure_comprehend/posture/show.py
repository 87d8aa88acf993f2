"""What ``secure-comprehend show`` reports: each setting, and who set it.

A value is credited to the source that set it (a file, an environment
variable, a section-level variable such as ``SECURE_COMPREHEND_VPC``) and to
the section it sits in: a region's own section replaces the top-level one
entirely, so ``[regions.eu-west-1.kms]`` is named where it applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Posture(Protocol):
    """What is shown of a posture (``secure_comprehend.Posture``; a protocol, so that the
    posture's own ``__str__`` can use this module without an import circle)."""

    @property
    def mode(self) -> str: ...

    @property
    def regions(self) -> Mapping[str, Any]: ...

    def effective(self, region: str, partition: str | None = None) -> Any: ...

    def section_in(self, name: str, region: str | None) -> tuple[Any, bool]: ...


SECTIONS = ("vpc", "kms", "iam", "s3", "models")
Sources = Mapping[tuple[str, ...], str]


def source_of(path: tuple[str, ...], sources: Sources, default: str = "not set") -> str:
    """Who set ``path``: the source of its longest prefix that a source set."""
    for n in range(len(path), 0, -1):
        if path[:n] in sources:
            return sources[path[:n]]
    return default


def show_report(
    posture: Posture, sources: Sources, region: str | None, origin: Any = None
) -> dict[str, Any]:
    """The posture as plain data: top level (``region`` None) or one region's effective one.

    ``origin`` (an ``Origin``) says where the posture was loaded from.

    Raises:
        PostureError: ``region`` is unknown or has no valid posture.
    """
    if region is not None:
        posture.effective(region)  # the same checks as a client in that region
    report: dict[str, Any] = {
        "region": region,
        "origin": origin.to_dict() if origin else None,
        "mode": {"value": posture.mode, "source": source_of(("mode",), sources, "default")},
    }
    for name in SECTIONS:
        section, own = posture.section_in(name, region)
        prefix = ("regions", str(region), name) if own else (name,)
        if section is None:
            report[name] = None
            continue
        report[name] = {
            field: {
                "value": list(value) if isinstance(value, tuple) else value,
                "source": source_of((*prefix, field), sources)
                if field in section.model_fields_set
                else "not set",
                "section": ".".join(prefix),
            }
            for field, value in section.model_dump().items()
        }
    if region is None:
        report["regions"] = {
            name: [s for s in SECTIONS if getattr(settings, s, None) is not None]
            for name, settings in sorted(posture.regions.items())
        }
    return report


def show_text(report: Mapping[str, Any]) -> str:
    """The report as the table people read on a terminal."""
    mode = report["mode"]
    where = f"for {report['region']}" if report["region"] else "(top level)"
    lines = [f"posture {where}: mode {mode['value']} (from {mode['source']})"]
    if report.get("origin"):
        lines.append(f"loaded from {origin_text(report['origin'])}")
    for name in SECTIONS:
        fields = report[name]
        if fields is None:
            lines.append(f"[{name}]  not configured: not enforced")
            continue
        section = next(iter(fields.values()))["section"]
        lines.append(f"[{name}]" + (f"  from [{section}]" if section != name else ""))
        for field, entry in fields.items():
            if entry["source"] == "not set":
                continue
            lines.append(f"  {field} = {entry['value']!r}")
            lines.append(f"      from {entry['source']}")
    regions = report.get("regions")
    if regions:
        listed = ", ".join(f"{r} ({', '.join(s)})" for r, s in regions.items())
        lines.append(f"regions with their own sections: {listed}; see --region REGION")
    return "\n".join(lines)


def origin_text(origin: Mapping[str, Any]) -> str:
    """Where a posture was loaded from (``Origin.to_dict()``), as people read it."""
    where = f" in {origin['region']}" if origin["region"] else ""
    version = f", version {origin['version']}" if origin["version"] else ""
    return f"{origin['source']}{where}{version}, read at {origin['fetched_at']}"


def setting_rows(posture: Posture, sources: Sources) -> list[tuple[str, object, str]]:
    """(setting, value, source) for every setting a posture sets, regions included."""
    rows: list[tuple[str, object, str]] = [
        ("mode", posture.mode, source_of(("mode",), sources, "default"))
    ]
    scopes: list[tuple[tuple[str, ...], Any]] = [((), posture)]
    scopes += [(("regions", name), settings) for name, settings in sorted(posture.regions.items())]
    for prefix, scope in scopes:
        for name in SECTIONS:
            section = getattr(scope, name, None)
            for field in sorted(section.model_fields_set) if section is not None else ():
                path = (*prefix, name, field)
                rows.append((".".join(path), getattr(section, field), source_of(path, sources)))
    return rows
