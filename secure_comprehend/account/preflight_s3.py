"""Preflight: the approved buckets exist, in this account and the job's region.

A bucket that does not exist, or lives in another account or region, fails a job
hours later (``NO_READ_ACCESS_TO_INPUT``). ``s3:HeadBucket`` with
``ExpectedBucketOwner`` finds each up front; a pattern (``corp-ml-*``) is matched
against the account's own buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from secure_comprehend.account.preflight_grants import exact_buckets
from secure_comprehend.account.report import Check, Skipped, error_code

if TYPE_CHECKING:
    from secure_comprehend.account.report import PreflightReport, Probe
    from secure_comprehend.posture.model import EffectivePosture

_MISSING = {"404", "NoSuchBucket", "NotFound"}


def buckets(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """Each exact bucket exists in the account and region; each pattern matches one."""
    if posture.s3 is None:
        return
    allowed = posture.s3.allowed_buckets
    for bucket in exact_buckets(allowed):
        yield _bucket(probe, bucket, report.account)
    patterns = sorted(set(allowed) - set(exact_buckets(allowed)))
    if patterns:
        yield from _patterns(probe, patterns)


def _bucket(probe: Probe, bucket: str, account: str | None) -> Check:
    owner = {"ExpectedBucketOwner": account} if account else {}
    try:
        found = probe.call("s3", "HeadBucket", Bucket=bucket, **owner)
    except Skipped as exc:
        if not account:
            return Check("s3 buckets", bucket, "SKIPPED", str(exc))
        return _not_owned_or_hidden(probe, bucket, account, exc)
    except Exception as exc:
        code = error_code(exc)
        if code in _MISSING:
            return Check(
                "s3 buckets", bucket, "FAIL", "does not exist: jobs that read or write it fail"
            )
        return Check("s3 buckets", bucket, "FAIL", f"cannot be reached: {code}")
    region = found.get("BucketRegion") or _header(found, "x-amz-bucket-region")
    if region and region != probe.region:
        return Check(
            "s3 buckets",
            bucket,
            "FAIL",
            f"is in {region}: a job's S3 URIs must be in the region of the endpoint called "
            f"({probe.region})",
        )
    where = f"account {account}" if account else "an account not checked"
    return Check("s3 buckets", bucket, "PASS", f"exists, in {where} and {region or 'this region'}")


def _not_owned_or_hidden(probe: Probe, bucket: str, account: str, refused: Skipped) -> Check:
    """HeadBucket with ExpectedBucketOwner was refused: another owner, or no permission."""
    try:
        probe.call("s3", "HeadBucket", Bucket=bucket)
    except Exception:
        return Check("s3 buckets", bucket, "SKIPPED", str(refused))
    return Check(
        "s3 buckets",
        bucket,
        "FAIL",
        f"is owned by another account, not {account}: the generated role reaches buckets of "
        "its own account only (s3:ResourceAccount)",
    )


def _patterns(probe: Probe, patterns: list[str]) -> Iterator[Check]:
    try:
        names = [b["Name"] for b in probe.call("s3", "ListBuckets").get("Buckets", [])]
    except Skipped as exc:
        for pattern in patterns:
            yield Check("s3 buckets", pattern, "SKIPPED", str(exc))
        return
    for pattern in patterns:
        matched = [n for n in names if fnmatchcase(n, pattern)]
        if matched:
            shown = ", ".join(matched[:5]) + (", ..." if len(matched) > 5 else "")
            yield Check(
                "s3 buckets", pattern, "PASS", f"matches {len(matched)} bucket(s) here: {shown}"
            )
        else:
            yield Check(
                "s3 buckets",
                pattern,
                "WARN",
                "matches none of this account's buckets (a bucket of another account may "
                "match it, and the generated role cannot reach that)",
            )


def _header(answer: dict[str, object], name: str) -> str | None:
    metadata = answer.get("ResponseMetadata")
    headers = metadata.get("HTTPHeaders", {}) if isinstance(metadata, dict) else {}
    value = headers.get(name) if isinstance(headers, dict) else None
    return str(value) if value else None
