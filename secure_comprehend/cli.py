"""The ``secure-comprehend`` command: show, check, policy, doctor, scan, demo.

Exit codes for every command: 0 compliant / passed, 1 not compliant / a check
FAILed, 2 could not run (usage, posture, credentials, region, network, file,
encoding). A failure to run is one line ``secure-comprehend: error: ...`` on
stderr that says what to do (and a JSON error object on stdout under
``--json``); a traceback only with ``--debug``. A closed pipe is quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from secure_comprehend._decision import Decision

EXIT_OK, EXIT_NOT_COMPLIANT, EXIT_CANNOT_RUN = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a tool ended by SIGPIPE

EXIT_CODES = """exit codes:
  0  {ok}
  1  {failed}
  2  could not run: usage, posture, credentials, region, network, file or encoding"""


class CannotRun(Exception):
    """The command could not run; the message says what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if sys.stdout is None:  # started with stdout closed (`>&-`): nothing could be shown
            raise CannotRun("standard output is closed: nothing could be written")
        return int(args.run(args))
    except BrokenPipeError:
        # the reader went away (`| head`): say nothing, as other Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.debug:
            raise
        message = _explain(exc)
        print(f"secure-comprehend: error: {message}", file=sys.stderr)
        if args.json:
            _print_json({"error": {"type": type(exc).__name__, "message": message}})
        return EXIT_CANNOT_RUN


def _explain(exc: Exception) -> str:
    """One line (or a posture's list of errors) that says what went wrong and what to do."""
    from botocore import exceptions as botocore_errors

    from secure_comprehend._errors import PostureError

    if isinstance(exc, (CannotRun, PostureError)):
        return str(exc)
    if isinstance(exc, botocore_errors.NoCredentialsError):
        return (
            "no AWS credentials: run 'aws configure' or 'aws sso login', or set AWS_PROFILE "
            "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(exc, botocore_errors.NoRegionError):
        return "no region: pass --region, set AWS_DEFAULT_REGION, or give your profile a region"
    if isinstance(exc, (botocore_errors.EndpointConnectionError, botocore_errors.ConnectionError)):
        return f"cannot reach AWS ({exc}): check the network, proxy or endpoint settings"
    if isinstance(exc, botocore_errors.ClientError):
        error = exc.response.get("Error", {})
        return (
            f"AWS answered {exc.operation_name} with {error.get('Code', 'an error')}: "
            f"{error.get('Message', exc)}"
        )
    if isinstance(exc, botocore_errors.BotoCoreError):
        return f"botocore: {exc}"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to check"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, (ValueError, TypeError)):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secure-comprehend",
        description="Keep Amazon Comprehend inside your VPC and under your KMS keys.",
        epilog="Run 'secure-comprehend COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str, summary: str, text: str, example: str, ok: str, failed: str, json: bool = True
    ) -> Any:
        sub = commands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {text}",
            epilog=f"example:\n  {example}\n\n" + EXIT_CODES.format(ok=ok, failed=failed),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if json:
            sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        else:
            sub.set_defaults(json=False)
        sub.add_argument("--debug", action="store_true", help="show a traceback on errors")
        return sub

    show = command(
        "show",
        "the posture and where each value came from",
        "Without --region: the top-level sections and the regions that have their own. "
        "With --region: the effective posture of that region, each value credited to the "
        "file, variable or section that set it. Reads nothing from AWS.",
        "secure-comprehend show --region eu-west-1",
        "shown",
        "(not used)",
    )
    _posture_options(show, region="the region whose effective posture to show (default: none)")
    show.set_defaults(run=_show)

    check = command(
        "check",
        "decide a request without calling AWS",
        "Applies the posture to a request as a protected client would, then runs botocore's "
        "own parameter validation on the result, and prints the verdict, what was filled in "
        "and the request.",
        "secure-comprehend check start_entities_detection_job request.json --region us-east-1",
        "compliant: the request would be sent",
        "not compliant: a posture violation, or botocore would refuse the request",
    )
    check.add_argument("operation", help="CreateDocumentClassifier or create_document_classifier")
    check.add_argument("request", help="a JSON file with the request parameters ('-' for stdin)")
    _posture_options(check, region="the region the request would go to (default: as boto3)")
    check.set_defaults(run=_check)

    policy = command(
        "policy",
        "the posture as IAM policies or SCPs",
        "Deny-only documents that make AWS enforce what the client enforces, from the same "
        "posture and botocore model. Notes on stderr say what a policy cannot express.",
        "secure-comprehend policy --kind scp --out scp.json",
        "written",
        "(not used)",
        json=False,  # documents are JSON already
    )
    policy.add_argument(
        "--kind",
        choices=["identity", "scp", "data-access-role", "key-policy"],
        default="identity",
        help="identity or scp: Deny-only documents; data-access-role: each role's trust and "
        "permissions policies; key-policy: the statement each key's policy needs",
    )
    _posture_options(policy, region="only this region (default: every region, others denied)")
    policy.add_argument(
        "--out", help="write one file per document (FILE, or FILE-1, FILE-2, ...) instead"
    )
    policy.set_defaults(run=_policy)

    doctor = command(
        "doctor",
        "read-only checks of the posture against the account",
        "Describe/Get/List calls only: the subnets, security groups, S3 path, KMS keys, key "
        "policies and data-access roles the posture names. A call you may not make is SKIPPED.",
        "AWS_PROFILE=ml secure-comprehend doctor --region us-east-1",
        "every check passed (WARN and SKIPPED included)",
        "a check FAILed",
    )
    _posture_options(doctor, region="the region to check (default: as boto3)")
    doctor.set_defaults(run=_doctor)

    scan = command(
        "scan",
        "judge what already exists against the posture",
        "Lists every Comprehend resource of the region (models with their versions, endpoints, "
        "flywheels, and jobs submitted in the last --since days) and judges each as the request "
        "that made it. Read-only. Audit first with scan, then turn on enforce.",
        "secure-comprehend scan --region us-east-1 --since 7",
        "every resource is compliant",
        "some resource is not compliant",
    )
    _posture_options(scan, region="the region to scan (default: as boto3)")
    scan.add_argument(
        "--since", type=int, default=30, metavar="DAYS", help="jobs of the last DAYS days (30)"
    )
    scan.set_defaults(run=_scan)

    demo = command(
        "demo",
        "run a protected client against in-process moto",
        "Trains a classifier and starts a job with business parameters only, then shows a "
        "request the posture refuses. Needs the 'demo' extra (moto); no AWS account.",
        "secure-comprehend demo --config my-posture.toml",
        "the demo ran and the posture held",
        "a request the posture should refuse was sent",
        json=False,
    )
    demo.add_argument("--config", help="posture TOML file (default: config.example.toml)")
    demo.set_defaults(run=_demo)
    return parser


def _posture_options(parser: argparse.ArgumentParser, *, region: str) -> None:
    parser.add_argument(
        "--config", help="posture TOML file (default: SECURE_COMPREHEND_* and the lookup)"
    )
    parser.add_argument("--region", help=region)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("secure-comprehend")
    except PackageNotFoundError:  # run from a source tree
        return "unknown"


def _load(args: argparse.Namespace) -> tuple[Any, dict[tuple[str, ...], str]]:
    from secure_comprehend._errors import PostureError
    from secure_comprehend._loading import load_with_sources

    try:
        return load_with_sources(args.config, "--config")
    except PostureError as exc:
        if str(exc).startswith("no posture found"):
            raise CannotRun(f"{exc}; or pass --config FILE (config.example.toml to start)") from exc
        raise


def _region(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """--region, else the region boto3 would use (AWS_DEFAULT_REGION, the profile)."""
    if args.region:
        return str(args.region)
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    if not region and required:
        raise CannotRun(
            "no region: pass --region, set AWS_DEFAULT_REGION, or give your profile a region"
        )
    return str(region) if region else None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, allow_nan=False, default=str))


def _show(args: argparse.Namespace) -> int:
    from secure_comprehend._show import show_report, show_text

    posture, sources = _load(args)
    report = show_report(posture, sources, _region(args, required=False))
    if args.json:
        _print_json(report)
    else:
        print(show_text(report))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from secure_comprehend._decision import evaluate

    params = _read_request(args.request)
    posture, _ = _load(args)
    region = _region(args)
    decision = evaluate(args.operation, params, posture, region=str(region))
    invalid = _botocore_errors(decision)
    _print_decision(decision, posture.mode, invalid, args.json)
    return EXIT_OK if decision.allowed and not invalid else EXIT_NOT_COMPLIANT


def _read_request(name: str) -> dict[str, Any]:
    from pathlib import Path

    from secure_comprehend._wire import unique_keys

    label = "stdin" if name == "-" else name
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise CannotRun(f"request file {label}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CannotRun(f"request file {label} is not UTF-8 text: {exc}") from exc

    def no_constants(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    try:
        params = json.loads(text, parse_constant=no_constants, object_pairs_hook=unique_keys)
    except RecursionError as exc:
        raise CannotRun(f"request file {label} is nested too deeply to check") from exc
    except ValueError as exc:
        raise CannotRun(f"request file {label} is not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise CannotRun(f"request file {label}: the request must be a JSON object")
    return params


def _botocore_errors(decision: Decision) -> list[str]:
    """botocore's own validation of the request as it would be sent."""
    from botocore.validate import ParamValidator

    from secure_comprehend._operations import default_model

    shape = default_model()[0].operation_model(decision.operation).input_shape
    if shape is None:  # an operation without input: nothing to validate
        return []
    try:
        report = ParamValidator().validate(decision.params, shape)
    except RecursionError:
        return ["the request is nested too deeply to validate"]
    if not report.has_errors():
        return []
    lines = report.generate_report().splitlines()
    return [line for line in lines if line.strip()]


def _print_decision(decision: Decision, mode: str, invalid: list[str], as_json: bool) -> None:
    sent = not invalid and (decision.allowed or mode == "audit")
    if as_json:
        _print_json(
            {
                "operation": decision.operation,
                "allowed": decision.allowed and not invalid,
                "mode": mode,
                "sent": sent,
                "request": decision.params,
                "injected": list(decision.injected),
                "rewritten": list(decision.rewritten),
                "violations": [
                    {
                        "path": v.path,
                        "value": v.value,
                        "reason": v.reason,
                        "approved": list(v.allowed),
                    }
                    for v in decision.violations
                ],
                "botocore_errors": invalid,
            }
        )
        return
    if decision.allowed and not invalid:
        verdict = "compliant"
    elif not decision.allowed and mode == "enforce":
        verdict = "refused"
    elif not decision.allowed and not invalid:
        verdict = "not compliant (audit mode: would be sent)"
    elif not decision.allowed:
        verdict = "not compliant, and botocore would refuse it: not sent"
    else:
        verdict = "not valid: botocore would refuse it"
    print(f"{decision.operation}: {verdict}")
    for label, paths in (
        ("filled in", decision.injected),
        ("key IDs rewritten to ARNs", decision.rewritten),
    ):
        if paths:
            print(f"  {label}: {', '.join(paths)}")
    for violation in decision.violations:
        print(f"  violation: {violation}")
    for line in invalid:
        print(f"  botocore: {line}")
    print("request as it would be sent:" if sent else "request (not sent):")
    print(json.dumps(decision.params, indent=2, allow_nan=False, default=str))


def _policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from secure_comprehend._iam import SIZE_LIMITS, build_policy, compact

    posture, _ = _load(args)
    if args.kind in ("data-access-role", "key-policy"):
        return _provisioning(args, posture)
    result = build_policy(posture, kind=args.kind, region=args.region)
    documents = result.documents
    limit = SIZE_LIMITS[args.kind]
    why = (
        "it fits"
        if len(documents) == 1
        else f"the statements exceed the {limit:,}-character {args.kind} limit together"
    )
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise CannotRun(f"--out {out} is a directory: name a file, e.g. {out / 'policy.json'}")
        paths = (
            [out]
            if len(documents) == 1
            else [
                out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, len(documents) + 1)
            ]
        )
        for path, document in zip(paths, documents, strict=True):
            path.write_text(compact(document))  # exactly the text whose size was checked
        written = ", ".join(str(p) for p in paths)
        print(f"wrote {len(documents)} {args.kind} document(s) ({why}): {written}", file=sys.stderr)
    else:
        print("[" + ",".join(compact(d) for d in documents) + "]")
        print(f"{len(documents)} {args.kind} document(s): {why}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _provisioning(args: argparse.Namespace, posture: Any) -> int:
    """policy --kind data-access-role / key-policy: documents keyed by role or key ARN."""
    from pathlib import Path

    from secure_comprehend._iam import compact
    from secure_comprehend._provisioning import data_access_role, key_policy

    build = data_access_role if args.kind == "data-access-role" else key_policy
    documents, notes = build(posture, args.region)
    text = compact(documents)
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise CannotRun(f"--out {out} is a directory: name a file, e.g. {out / 'role.json'}")
        out.write_text(text)
        print(f"wrote {args.kind} documents for {len(documents)} ARN(s): {out}", file=sys.stderr)
    else:
        print(text)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    import boto3

    from secure_comprehend._preflight import preflight

    region = _region(args)
    interactive = sys.stderr.isatty() and not args.json
    posture, _ = _load(args)

    def progress(area: str) -> None:
        if interactive:
            print(f"checking {area}...", file=sys.stderr)

    report = preflight(
        posture,
        session=boto3.Session(region_name=region),
        region_name=region,
        progress=progress,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(str(report))
    return EXIT_OK if report.ok else EXIT_NOT_COMPLIANT


def _scan(args: argparse.Namespace) -> int:
    import boto3

    from secure_comprehend._scan import scan

    region = _region(args)
    posture, _ = _load(args)
    interactive = sys.stderr.isatty() and not args.json

    def progress(area: str) -> None:
        if interactive:
            print(f"listing {area}...", file=sys.stderr)

    report = scan(
        posture,
        session=boto3.Session(region_name=region),
        region_name=region,
        since_days=args.since,
        progress=progress,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(str(report))
    return EXIT_OK if report.ok else EXIT_NOT_COMPLIANT


def _demo(args: argparse.Namespace) -> int:
    from secure_comprehend._demo import run

    return run(args.config)
