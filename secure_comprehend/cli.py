"""The ``secure-comprehend`` command: show, check, demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import PostureError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from secure_comprehend._decision import Decision
    from secure_comprehend._posture import EffectivePosture

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (PostureError, ValueError, OSError) as exc:
        print(f"secure-comprehend: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secure-comprehend",
        description="Keep Amazon Comprehend inside your VPC and under your KMS keys.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    show = commands.add_parser("show", help="the effective posture for a region and its sources")
    _common(show)
    show.set_defaults(run=_show)

    check = commands.add_parser("check", help="decide a request without calling AWS")
    check.add_argument("operation", help="CreateDocumentClassifier or create_document_classifier")
    check.add_argument("request", help="a JSON file with the request parameters ('-' for stdin)")
    _common(check)
    check.set_defaults(run=_check)

    policy = commands.add_parser("policy", help="the posture as IAM policies or SCPs")
    policy.add_argument("--kind", choices=["identity", "scp"], default="identity")
    policy.add_argument("--config", help="posture TOML file (default: environment and lookup)")
    policy.add_argument("--region", help="only this region (default: every region, others denied)")
    policy.add_argument("--out", help="write one file per document (FILE, or FILE-1, FILE-2, ...)")
    policy.set_defaults(run=_policy)

    doctor = commands.add_parser("doctor", help="read-only checks of the posture against AWS")
    _common(doctor)
    doctor.set_defaults(run=_doctor)

    demo = commands.add_parser("demo", help="run a protected client against in-process moto")
    demo.add_argument("--config", help="posture TOML file (default: config.example.toml)")
    demo.set_defaults(run=_demo)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="posture TOML file (default: environment and lookup)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or the AWS config)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _region(args: argparse.Namespace) -> str:
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        import botocore.session

        region = botocore.session.get_session().get_config_variable("region")
    if not region:
        raise ValueError("no region: pass --region or set AWS_REGION")
    return str(region)


def _effective(args: argparse.Namespace) -> tuple[EffectivePosture, dict[tuple[str, ...], str]]:
    from secure_comprehend._loading import load_with_sources
    from secure_comprehend._regions import partition_of

    posture, sources = load_with_sources(args.config)
    region = _region(args)
    return posture.effective(region, partition_of(region)), sources


def _show(args: argparse.Namespace) -> int:
    effective, sources = _effective(args)
    sections: dict[str, Any] = {}
    for name in ("vpc", "kms", "iam"):
        section = getattr(effective, name)
        if section is None:
            sections[name] = None
            continue
        overlaid = ("regions", effective.region, name) in sources
        prefix: tuple[str, ...] = ("regions", effective.region, name) if overlaid else (name,)
        sections[name] = {
            field: {
                "value": list(value) if isinstance(value, tuple) else value,
                "source": sources.get((*prefix, field), "default"),
            }
            for field, value in section.model_dump().items()
        }
    mode = {"value": effective.mode, "source": sources.get(("mode",), "default")}
    report = {"region": effective.region, "mode": mode, **sections}
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"posture for {effective.region} (mode: {effective.mode}, from {mode['source']})")
    for name, fields in sections.items():
        print(f"[{name}]" + ("  not configured: not enforced" if fields is None else ""))
        for field, entry in (fields or {}).items():
            print(f"  {field} = {entry['value']!r}\n      from {entry['source']}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from secure_comprehend._decision import evaluate
    from secure_comprehend._loading import load_posture

    text = sys.stdin.read() if args.request == "-" else Path(args.request).read_text()
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{args.request}: not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ValueError(f"{args.request}: the request must be a JSON object")
    posture = load_posture(args.config)
    decision = evaluate(args.operation, params, posture, region=_region(args))
    _print_decision(decision, posture.mode, args.json)
    return EXIT_OK if decision.allowed else EXIT_REFUSED


def _print_decision(decision: Decision, mode: str, as_json: bool) -> None:
    verdict = (
        "compliant"
        if decision.allowed
        else ("refused" if mode == "enforce" else "not compliant (audit mode: would be sent)")
    )
    if as_json:
        report = {
            "operation": decision.operation,
            "allowed": decision.allowed,
            "mode": mode,
            "request": decision.params,
            "injected": list(decision.injected),
            "rewritten": list(decision.rewritten),
            "violations": [
                {"path": v.path, "value": v.value, "reason": v.reason, "allowed": list(v.allowed)}
                for v in decision.violations
            ],
        }
        print(json.dumps(report, indent=2, default=str))
        return
    print(f"{decision.operation}: {verdict}")
    for label, paths in (("injected", decision.injected), ("rewritten", decision.rewritten)):
        if paths:
            print(f"  {label}: {', '.join(paths)}")
    for violation in decision.violations:
        print(f"  violation: {violation}")
    print("request as it would be sent:")
    print(json.dumps(decision.params, indent=2, default=str))


def _policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from secure_comprehend._iam import SIZE_LIMITS, build_policy
    from secure_comprehend._loading import load_posture

    result = build_policy(load_posture(args.config), kind=args.kind, region=args.region)
    documents = result.documents
    limit = SIZE_LIMITS[args.kind]
    why = (
        "it fits"
        if len(documents) == 1
        else f"the statements exceed the {limit:,}-character {args.kind} limit together"
    )
    if args.out:
        out = Path(args.out)
        paths = (
            [out]
            if len(documents) == 1
            else [
                out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, len(documents) + 1)
            ]
        )
        for path, document in zip(paths, documents, strict=True):
            path.write_text(json.dumps(document, indent=2) + "\n")
        written = ", ".join(str(p) for p in paths)
        print(f"wrote {len(documents)} {args.kind} document(s) ({why}): {written}", file=sys.stderr)
    else:
        print(json.dumps(documents, indent=2))
        print(f"{len(documents)} {args.kind} document(s): {why}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    import boto3

    from secure_comprehend._loading import load_posture
    from secure_comprehend._preflight import preflight

    region = _region(args)
    interactive = sys.stderr.isatty() and not args.json

    def progress(area: str) -> None:
        if interactive:
            print(f"checking {area}...", file=sys.stderr)

    report = preflight(
        load_posture(args.config),
        session=boto3.Session(region_name=region),
        region_name=region,
        progress=progress,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"preflight for account {report.account or '(unknown)'} in {report.region}")
        width = max((len(c.area) for c in report.checks), default=0)
        for check in report.checks:
            print(f"{check.status:<8} {check.area:<{width}}  {check.subject}")
            print(f"{'':<8} {'':<{width}}  {check.reason}")
        counts = {
            s: sum(c.status == s for c in report.checks)
            for s in ("PASS", "WARN", "FAIL", "SKIPPED")
        }
        print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return EXIT_OK if report.ok else EXIT_REFUSED


def _demo(args: argparse.Namespace) -> int:
    from secure_comprehend._demo import run

    return run(args.config)
