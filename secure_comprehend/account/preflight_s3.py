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
# A HEAD answer has no body: S3's refusal comes as the bare status code
_REFUSED = {"403", "AccessDenied", "Forbidden"}
_HIDDEN = (
    "not allowed to call s3:HeadBucket (403): needs s3:ListBucket on the bucket; whether it "
    "exists, and whose it is, is not checked"
)


def buckets(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """Each exact bucket exists in the account (and says in which region); each pattern
    matches one of the account's buckets."""
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
    except Skipped:
        return _not_owned_or_hidden(probe, bucket, account)
    except Exception as exc:
        code = error_code(exc)
        if code in _MISSING:
            return Check(
                "s3 buckets", bucket, "FAIL", "does not exist: jobs that read or write it fail"
            )
        if code in _REFUSED:
            return _not_owned_or_hidden(probe, bucket, account)
        return Check("s3 buckets", bucket, "WARN", f"could not be checked: {code}")
    region = found.get("BucketRegion") or _header(found, "x-amz-bucket-region")
    where = f"account {account}" if account else "an account not checked"
    if region and region != probe.region:  # [s3] is for every region: one of the others'
        return Check(
            "s3 buckets",
            bucket,
            "WARN",
            f"exists, in {where}, in {region}: only jobs in {region} can use it (a job's S3 "
            f"URIs must be in the region of the endpoint called, here {probe.region})",
        )
    return Check("s3 buckets", bucket, "PASS", f"exists, in {where} and {region or 'this region'}")


def _not_owned_or_hidden(probe: Probe, bucket: str, account: str | None) -> Check:
    """HeadBucket was refused: the bucket is another account's, or we may not look."""
    if not account:
        return Check("s3 buckets", bucket, "SKIPPED", _HIDDEN)
    try:
        probe.call("s3", "HeadBucket", Bucket=bucket)
    except Exception:
        return Check("s3 buckets", bucket, "SKIPPED", _HIDDEN)
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
