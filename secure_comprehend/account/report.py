"""The preflight report and the read-only probe every preflight area shares.

Its own module so that the areas (``_preflight_vpc``, ``_preflight_kms``,
``_preflight_iam``) and ``preflight()`` that runs them all import from here,
and no import goes in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from secure_comprehend._errors import ACCESS_DENIED, aws_error_code

if TYPE_CHECKING:
    import boto3

    from secure_comprehend.posture.origin import Origin

Status = Literal["PASS", "WARN", "FAIL", "SKIPPED"]


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    area: str  # identity, subnets, security groups, s3 path, kms, key policy, roles
    subject: str  # what was checked: a subnet ID, a key ARN, a role ARN
    status: Status
    reason: str


@dataclass
class PreflightReport:
    """Every check, in the order run."""

    region: str
    account: str | None = None
    checks: list[Check] = field(default_factory=list)
    origin: Origin | None = None  # where the posture checked was loaded from
    # ARNs a check found not to exist: later checks that depend on them are SKIPPED
    absent: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Nothing FAILed."""
        return all(c.status != "FAIL" for c in self.checks)

    def counts(self) -> dict[str, int]:
        """How many checks have each status."""
        return {
            s: sum(c.status == s for c in self.checks) for s in ("PASS", "WARN", "FAIL", "SKIPPED")
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        return f"<PreflightReport {self.region} account {self.account or '?'}: {counts}>"

    def __str__(self) -> str:
        lines = [f"preflight for account {self.account or '(unknown)'} in {self.region}"]
        if self.origin is not None:
            lines.append(f"posture loaded from {self.origin}")
        width = max((len(c.area) for c in self.checks), default=0)
        for check in self.checks:
            lines.append(f"{check.status:<8} {check.area:<{width}}  {check.subject}")
            lines.append(f"{'':<8} {'':<{width}}  {check.reason}")
        lines.append(", ".join(f"{n} {s}" for s, n in self.counts().items()))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table

        caption = f"preflight for account {self.account or '(unknown)'} in {self.region}"
        rows = [(c.status, c.area, c.subject, c.reason) for c in self.checks]
        return html_table(caption, ("status", "area", "subject", "why"), rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "account": self.account,
            "origin": self.origin.to_dict() if self.origin else None,
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
        }


class Skipped(Exception):
    """A read-only call was refused; the check it served is SKIPPED."""

    def __init__(self, permission: str, detail: str) -> None:
        super().__init__(f"not allowed to call {permission} ({detail}): needs {permission}")
        self.permission = permission


def error_code(exc: Exception) -> str:
    """The AWS error code of a failed call, else the exception's type."""
    return aws_error_code(exc) or type(exc).__name__


class Probe:
    """Read-only clients for one session and region, and the call wrapper they share."""

    def __init__(self, session: boto3.Session, region: str) -> None:
        from botocore.config import Config

        self.session = session
        self.region = region
        # throttling is retried with botocore's standard retry mode
        self._config = Config(retries={"mode": "standard", "max_attempts": 5})
        self._clients: dict[str, Any] = {}
        self._answers: dict[str, tuple[Any, Exception | None]] = {}

    def once(self, service: str, operation: str, **params: Any) -> Any:
        """``call``, made once per run for the same arguments (two areas read one key
        policy, say): its answer, or its exception, is given again."""
        key = f"{service}:{operation}:{sorted(params.items())!r}"
        if key not in self._answers:
            try:
                self._answers[key] = (self.call(service, operation, **params), None)
            except Exception as exc:
                self._answers[key] = (None, exc)
        answer, failed = self._answers[key]
        if failed is not None:
            raise failed
        return answer

    def call(self, service: str, operation: str, **params: Any) -> Any:
        """Call ``service:operation``; AccessDenied becomes ``Skipped`` naming the permission."""
        from botocore import xform_name
        from botocore.exceptions import ClientError

        if service not in self._clients:
            make: Callable[..., Any] = self.session.client  # one signature for every service
            self._clients[service] = make(service, region_name=self.region, config=self._config)
        try:
            return getattr(self._clients[service], xform_name(operation))(**params)
        except ClientError as exc:
            code = aws_error_code(exc)
            if code in ACCESS_DENIED:
                raise Skipped(f"{service}:{operation}", str(code)) from exc
            raise


def checked(area: str, run: Callable[[], Iterable[Check]], report: PreflightReport) -> list[Check]:
    """An area's checks; a call it may not make ends the area with one SKIPPED line that
    says so, after what it found. Once the credentials have worked (``report.account``), so
    does an answer of AWS's other errors (throttled after botocore's retries, a resource
    gone meanwhile): never a finding. Before that, or without an answer at all (no
    credentials, no network), the error is raised: the command could not run."""
    from botocore.exceptions import ClientError

    found: list[Check] = []
    try:
        found.extend(run())
    except Skipped as exc:
        found.append(Check(area, "-", "SKIPPED", str(exc)))
    except ClientError as exc:
        if report.account is None:
            raise
        found.append(Check(area, "-", "SKIPPED", f"could not be checked: {error_code(exc)}"))
    return found
