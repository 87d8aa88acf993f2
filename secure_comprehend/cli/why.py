"""``secure-comprehend why JOB``: why a job failed or is stuck (``account.why``).

Registered by ``cli._parser()`` with one line: ``why.register(command, _posture_options)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from secure_comprehend.cli.commands import EXIT_NOT_COMPLIANT, EXIT_OK, CannotRun


def register(command: Callable[..., Any], posture_options: Callable[..., None]) -> None:
    """Add the ``why`` command: ``command`` is ``_parser()``'s helper."""
    why = command(
        "why",
        "why a job failed or is stuck",
        "Describes the job (an ID of any job type, or its ARN) and, when it failed or has "
        "not finished, runs the doctor's checks on the job's own recorded configuration: its "
        "subnets and security groups and their path to S3, its KMS keys and their key "
        "policies, its data-access role's trust, and what IAM's policy simulator lets that "
        "role do on the job's own S3 URIs and keys. The likely cause comes first, with its "
        "fix. Also says whether the job is compliant with the posture as loaded now (none "
        "found: not judged). Read-only.",
        "secure-comprehend why 0123456789abcdef0123456789abcdef --region us-east-1",
        "the job succeeded, or nothing wrong was found",
        "a likely cause was found",
        cannot="; or no such job in the region",
    )
    why.add_argument(
        "job",
        metavar="JOB",
        help="a job ID (any job type: each Describe*Job is tried) or a job ARN "
        "(arn:aws:comprehend:REGION:ACCOUNT:entities-detection-job/ID)",
    )
    posture_options(
        why,
        region="the job's region (default: the ARN's, else as boto3); the posture's "
        "sections for that region judge it",
    )
    why.set_defaults(run=run_why)


def run_why(args: argparse.Namespace) -> int:
    from secure_comprehend.account.why import JobNotFound, parse_job, why
    from secure_comprehend.cli.commands import _progress, _region, load
    from secure_comprehend.posture.regions import check_region

    try:
        _, _, arn_region = parse_job(args.job)
    except ValueError as exc:
        raise CannotRun(str(exc)) from exc
    if arn_region:
        check_region(arn_region, "the job ARN")
    if args.region:
        check_region(args.region, "--region")
        if arn_region and arn_region != args.region:
            raise CannotRun(
                f"the job ARN is in {arn_region}, not --region {args.region}: "
                "leave --region out, or give the job ID"
            )
    region = args.region or arn_region or _region(args)
    posture = None
    try:
        posture, _ = load(argparse.Namespace(config=args.config, region=region))
    except CannotRun as exc:
        if not str(exc).startswith("no posture found"):
            raise
    try:
        report = why(
            args.job,
            posture,
            region_name=region,
            judge=posture is not None,
            progress=_progress(args, "checking"),
        )
    except JobNotFound as exc:
        raise CannotRun(str(exc)) from exc
    if posture is None:
        report.compliance_note = "no posture found: pass --config FILE to judge the job"
    if args.json:
        from secure_comprehend.cli.commands import print_json

        print_json(report.to_dict())
    else:
        print(str(report))
    return EXIT_OK if report.ok else EXIT_NOT_COMPLIANT
