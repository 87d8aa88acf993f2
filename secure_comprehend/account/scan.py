"""scan(): what already exists, judged against the posture. Read-only.

Every Comprehend resource of a region (document classifiers and entity
recognizers with their versions, endpoints, flywheels, and the jobs of every
type submitted in the last ``since_days``) is listed through botocore's
paginators and judged by ``judge_resource()``, the same rules a request meets;
with ``[models]``, what runs a model (an endpoint, a job, a flywheel) is judged by
that model too, described as ``[models] verify`` describes it.
Use it for rollouts: audit first with ``scan``, then turn on enforce.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, PaginationError

from secure_comprehend._errors import ACCESS_DENIED, Violation, aws_error_code
from secure_comprehend.decision.judge import judge_resource

if TYPE_CHECKING:
    import boto3

    from secure_comprehend.posture.model import EffectivePosture, Posture


@dataclass(frozen=True)
class ScannedResource:
    """One resource and what the posture makes of it."""

    area: str  # document classifiers, endpoints, entities detection jobs, ...
    arn: str
    violations: tuple[Violation, ...] = ()

    @property
    def compliant(self) -> bool:
        return not self.violations


@dataclass
class ScanReport:
    """Every resource scanned, and the areas that could not be listed."""

    region: str
    resources: list[ScannedResource] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (area, why)
    areas: int = 0  # how many areas the scan tried to list

    @property
    def listed_nothing(self) -> bool:
        """Every area was skipped: the scan could not run at all."""
        return self.areas > 0 and len(self.skipped) == self.areas

    @property
    def ok(self) -> bool:
        """Every area was listed and every resource is compliant."""
        return not self.skipped and all(r.compliant for r in self.resources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "ok": self.ok,
            "resources": [
                {
                    "area": r.area,
                    "arn": r.arn,
                    "compliant": r.compliant,
                    "violations": [
                        {
                            "path": v.path,
                            "value": v.value,
                            "reason": v.reason,
                            "approved": list(v.allowed),
                        }
                        for v in r.violations
                    ],
                }
                for r in self.resources
            ],
            "skipped": [{"area": a, "reason": why} for a, why in self.skipped],
        }

    def __repr__(self) -> str:
        bad = sum(not r.compliant for r in self.resources)
        return (
            f"<ScanReport {self.region}: {len(self.resources)} resource(s), {bad} not compliant, "
            f"{len(self.skipped)} area(s) skipped>"
        )

    def __str__(self) -> str:
        lines = [f"scan of {self.region}"]
        for r in self.resources:
            lines.append(f"{'ok' if r.compliant else 'NOT OK':<7} {r.area:<32} {r.arn}")
            lines += [f"{'':<7} {'':<32}   {v.path}: {v.reason}" for v in r.violations]
        lines += [f"SKIPPED {area:<32} {why}" for area, why in self.skipped]
        bad = sum(not r.compliant for r in self.resources)
        lines.append(f"{len(self.resources)} resource(s), {bad} not compliant")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table

        rows = [
            (
                r.area,
                r.arn,
                "compliant" if r.compliant else "NOT compliant",
                "; ".join(f"{v.path}: {v.reason}" for v in r.violations),
            )
            for r in self.resources
        ] + [(area, "-", "SKIPPED", why) for area, why in self.skipped]
        return html_table(f"scan of {self.region}", ("area", "resource", "status", "why"), rows)


@dataclass(frozen=True)
class _Listing:
    area: str
    operation: str  # the List* call
    key: str  # its answer's list
    made_by: tuple[str, ...]  # the requests whose members the properties mirror
    arn: str  # the ARN field
    jobs: bool = False  # filtered by submit time
    runs_models: bool = True  # judged by the models it names too (an endpoint, a job...)


def _listings() -> list[_Listing]:
    """Models, endpoints and flywheels, and a listing per Start*Job of botocore's model."""
    from secure_comprehend.decision.operations import default_model

    model, table, _ = default_model()
    names = set(model.operation_names)
    # a model may have been trained or imported (SourceModelArn); an endpoint created or
    # updated (DesiredModelArn, DesiredDataAccessRoleArn): each is judged as both
    listings = [
        _Listing(
            "document classifiers",
            "ListDocumentClassifiers",
            "DocumentClassifierPropertiesList",
            ("CreateDocumentClassifier", "ImportModel"),
            "DocumentClassifierArn",
            runs_models=False,
        ),
        _Listing(
            "entity recognizers",
            "ListEntityRecognizers",
            "EntityRecognizerPropertiesList",
            ("CreateEntityRecognizer", "ImportModel"),
            "EntityRecognizerArn",
            runs_models=False,
        ),
        _Listing(
            "endpoints",
            "ListEndpoints",
            "EndpointPropertiesList",
            ("CreateEndpoint", "UpdateEndpoint"),
            "EndpointArn",
        ),
        _Listing(
            "flywheels", "ListFlywheels", "FlywheelSummaryList", ("CreateFlywheel",), "FlywheelArn"
        ),
    ]
    for start in sorted(n for n in table.specs if n.startswith("Start") and n.endswith("Job")):
        what = start.removeprefix("Start")  # EntitiesDetectionJob
        if f"List{what}s" in names:
            area = "".join(f" {c.lower()}" if c.isupper() else c for c in what).strip() + "s"
            listings.append(
                _Listing(area, f"List{what}s", f"{what}PropertiesList", (start,), "JobArn", True)
            )
    return listings


def scan(
    posture: Posture | None = None,
    *,
    session: boto3.Session | None = None,
    region_name: str | None = None,
    since_days: int = 30,
    progress: Callable[[str], None] | None = None,
) -> ScanReport:
    """Judge every Comprehend resource of a region against the posture, read-only.

    Args:
        posture: the posture; ``None`` loads it with ``load_posture()``.
        session: the boto3 session; ``None`` makes a new one.
        region_name: the region; ``None`` uses the session's.
        since_days: jobs submitted in the last this many days.
        progress: called with each area's name before it is listed.

    Returns:
        Each resource with its violations; areas that could not be listed as skipped.

    Raises:
        PostureError: the posture is missing or invalid, or has no posture for the region.
        TypeError: ``posture`` is not a Posture.
    """
    from secure_comprehend.posture.loading import account_view

    session, region, effective, _ = account_view(posture, session, region_name)
    client = session.client("comprehend", region_name=region)
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=since_days)
    listings = _listings()
    report = ScanReport(region, areas=len(listings))
    models = _Models(client) if effective.models is not None else None
    for listing in listings:
        if progress is not None:
            progress(listing.area)
        try:
            report.resources.extend(_scan_area(client, listing, effective, since, models))
        except (ClientError, PaginationError) as exc:  # credentials and network: exit 2
            report.skipped.append((listing.area, _why_skipped(listing, exc)))
    return report


def _why_skipped(listing: _Listing, exc: Exception) -> str:
    code = aws_error_code(exc) or type(exc).__name__
    call = getattr(exc, "operation_name", None) or listing.operation
    if code in ACCESS_DENIED:
        return f"not allowed ({code}): needs comprehend:{call}"
    return f"comprehend:{call} failed ({code}); the area was not judged"


def _pages(client: Any, method: str, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """botocore's paginator where the model has one, else NextToken by hand."""
    if client.can_paginate(method):
        yield from client.get_paginator(method).paginate(**arguments)
        return
    token: str | None = None
    while True:
        page = getattr(client, method)(**arguments, **({"NextToken": token} if token else {}))
        yield page
        token = page.get("NextToken")
        if not token:
            return


class _Models:
    """[models]: what runs a model is judged by that model, described as ``verify`` does
    (a flywheel by its active model), each model once per scan."""

    def __init__(self, client: Any) -> None:
        from secure_comprehend.guard.provenance import ModelVerifier

        self.verifier = ModelVerifier(lambda: client)
        self.verdicts: dict[str, str | None] = {}  # model ARN -> why not, for the whole scan

    def violations(
        self, operation: str, properties: Mapping[str, Any], posture: EffectivePosture
    ) -> Iterator[Violation]:
        from secure_comprehend.decision.operations import default_model

        spec = default_model()[1].get(operation)
        if spec is None:
            return
        for v in self.verifier.violations(spec, properties, posture, self.verdicts):
            yield replace(v, reason=f"runs {v.value}, which is not compliant: {v.reason}")


def _scan_area(
    client: Any,
    listing: _Listing,
    posture: EffectivePosture,
    since: datetime.datetime,
    models: _Models | None,
) -> Iterator[ScannedResource]:
    from botocore import xform_name

    # Jobs are filtered here on SubmitTime rather than with the API's SubmitTimeAfter
    # filter: moto 5.2.5 compares that filter to a float and fails; the answer is the same.
    for page in _pages(client, xform_name(listing.operation), {}):
        for item in page.get(listing.key, []):
            if listing.jobs and item.get("SubmitTime") and item["SubmitTime"] < since:
                continue
            properties = item
            if listing.area == "flywheels":  # the summary leaves out DataSecurityConfig
                try:
                    described = client.describe_flywheel(FlywheelArn=item["FlywheelArn"])
                except client.exceptions.ResourceNotFoundException:
                    continue  # deleted between the listing and now
                properties = described.get("FlywheelProperties") or item
            arn = str(properties.get(listing.arn) or item.get(listing.arn) or "(no ARN)")
            found: dict[tuple[str, str], Violation] = {}
            for operation in listing.made_by:
                for v in judge_resource(operation, properties, posture):
                    found.setdefault((v.path, v.reason), v)  # the same finding once
                if models is not None and listing.runs_models:
                    for v in models.violations(operation, properties, posture):
                        found.setdefault((v.path, v.reason), v)
            yield ScannedResource(listing.area, arn, tuple(found.values()))
