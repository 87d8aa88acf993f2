"""preflight(): read-only checks of the posture against the real account.

A subnet that does not exist, a security group in another VPC or a disabled key
only fails when a job starts, minutes into a notebook. These checks find that up
front with read-only calls (Describe*, Get*, List*). A call the caller may not
make is reported SKIPPED with the permission it needed, never a crash; a check
that depends on something it cannot evaluate is WARN or SKIPPED, never PASS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import boto3

    from secure_comprehend._posture import EffectivePosture, Posture

Status = Literal["PASS", "WARN", "FAIL", "SKIPPED"]
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}


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
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(exc).__name__)


class Probe:
    """Read-only clients for one session and region, and the call wrapper they share."""

    def __init__(self, session: boto3.Session, region: str) -> None:
        from botocore.config import Config

        self.session = session
        self.region = region
        # throttling is retried with botocore's standard retry mode
        self._config = Config(retries={"mode": "standard", "max_attempts": 5})
        self._clients: dict[str, Any] = {}

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
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _DENIED:
                raise Skipped(f"{service}:{operation}", code) from exc
            raise


Area = Callable[["Probe", "EffectivePosture", "PreflightReport"], Iterator[Check]]


def preflight(
    posture: Posture | None = None,
    *,
    session: boto3.Session | None = None,
    region_name: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> PreflightReport:
    """Check the posture against the account, read-only.

    Args:
        posture: the posture to check; ``None`` loads it with ``load_posture()``.
        session: the boto3 session to use; ``None`` makes a new one.
        region_name: the region; ``None`` uses the session's.
        progress: called with each area's name before it runs (the CLI shows it).

    Returns:
        The report: one ``Check`` per finding, ``report.ok`` when nothing FAILed.

    Raises:
        PostureError: the posture is missing, invalid, or not valid for the region.
        TypeError: ``posture`` is not a Posture.
    """
    import boto3

    from secure_comprehend._loading import posture_or_load
    from secure_comprehend._preflight_iam import roles
    from secure_comprehend._preflight_kms import key_policies, keys
    from secure_comprehend._preflight_vpc import s3_paths, security_groups, subnets

    checked = posture_or_load(posture)
    session = session or boto3.Session(region_name=region_name)
    region = region_name or session.region_name
    if not region:
        from secure_comprehend._errors import PostureError

        raise PostureError("no region: pass region_name or configure one for the session")
    effective = checked.effective(region)
    probe = Probe(session, region)
    report = PreflightReport(region)
    areas: list[tuple[str, Area]] = [
        ("identity", identity),
        ("subnets", subnets),
        ("security groups", security_groups),
        ("s3 path", s3_paths),
        ("kms", keys),
        ("key policy", key_policies),
        ("roles", roles),
    ]
    for name, area in areas:
        if progress is not None:
            progress(name)
        try:
            report.checks.extend(area(probe, effective, report))
        except Skipped as exc:
            report.checks.append(Check(name, "-", "SKIPPED", str(exc)))
    return report


def identity(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """sts:GetCallerIdentity works, and the posture's ARNs are in this account."""
    from secure_comprehend._ids import ROLE_ARN_RE, parse_kms

    caller = probe.call("sts", "GetCallerIdentity")
    report.account = account = caller["Account"]
    yield Check("identity", caller["Arn"], "PASS", f"credentials work for account {account}")
    arns = [k for k in posture.default_keys.values()]
    arns += [k for k in (posture.kms.also_allowed if posture.kms else ()) if k.startswith("arn:")]
    for arn in arns:
        ref = parse_kms(arn)
        if ref is not None and ref.account and ref.account != account:
            yield Check(
                "identity",
                arn,
                "WARN",
                f"key in account {ref.account}, not {account}: cross-account",
            )
    for role in sorted(posture.roles):
        match = ROLE_ARN_RE.fullmatch(role)
        if match and match["account"] != account:
            yield Check(
                "identity", role, "WARN", f"role in account {match['account']}, not {account}"
            )
