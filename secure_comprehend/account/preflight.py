"""preflight(): read-only checks of the posture against the real account.

A subnet that does not exist, a security group in another VPC or a disabled key
only fails when a job starts, minutes into a notebook. These checks find that up
front with read-only calls (Describe*, Get*, List*). A call the caller may not
make is reported SKIPPED with the permission it needed, never a crash; a check
that depends on something it cannot evaluate is WARN or SKIPPED, never PASS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from secure_comprehend.account.report import Check, PreflightReport, Probe, checked

if TYPE_CHECKING:
    import boto3

    from secure_comprehend.posture.model import EffectivePosture, Posture

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
    from secure_comprehend.account.preflight_iam import roles
    from secure_comprehend.account.preflight_kms import key_policies, keys
    from secure_comprehend.account.preflight_s3 import buckets
    from secure_comprehend.account.preflight_vpc import s3_paths, security_groups, subnets
    from secure_comprehend.posture.loading import account_view

    session, region, effective, origin = account_view(posture, session, region_name)
    probe = Probe(session, region)
    report = PreflightReport(region, origin=origin)
    areas: list[tuple[str, Area]] = [
        ("identity", identity),
        ("subnets", subnets),
        ("security groups", security_groups),
        ("s3 path", s3_paths),
        ("s3 buckets", buckets),
        ("kms", keys),
        ("roles", roles),  # before key policy: a missing role skips the checks that need it
        ("key policy", key_policies),
    ]
    for name, area in areas:
        if progress is not None:
            progress(name)
        report.checks.extend(checked(name, partial(area, probe, effective, report), report))
    return report


def identity(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """sts:GetCallerIdentity works, and the posture's ARNs are in this account."""
    from secure_comprehend.posture.ids import ROLE_ARN_RE

    caller = probe.call("sts", "GetCallerIdentity")
    report.account = account = caller["Account"]
    yield Check("identity", caller["Arn"], "PASS", f"credentials work for account {account}")
    for role in sorted(posture.roles):
        match = ROLE_ARN_RE.fullmatch(role)
        if match and match["account"] != account:
            yield Check(
                "identity", role, "WARN", f"role in account {match['account']}, not {account}"
            )
