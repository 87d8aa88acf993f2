"""What each ``secure-comprehend`` command does, once ``cli`` has parsed its arguments.

Each ``run_*`` takes the parsed arguments and returns the exit code: 0 compliant /
passed, 1 not compliant / a check FAILed; a failure to run raises (``CannotRun``,
``PostureError``, botocore's errors) and ``cli.main`` turns it into exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from secure_comprehend.decision.decide import Decision

EXIT_OK, EXIT_NOT_COMPLIANT, EXIT_CANNOT_RUN = 0, 1, 2
NO_REGION = "no region: pass --region, set AWS_DEFAULT_REGION, or give your profile a region"
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a tool ended by SIGPIPE

EXIT_CODES = """exit codes:
  0  {ok}
  1  {failed}
  2  could not run: usage, posture, credentials, region, network, file or encoding"""


class CannotRun(Exception):
    """The command could not run; the message says what to do."""


def load(args: argparse.Namespace) -> tuple[Any, Mapping[tuple[str, ...], str]]:
    from secure_comprehend._errors import PostureError
    from secure_comprehend.posture.loading import load_with_sources
    from secure_comprehend.posture.regions import check_region

    # a fleet source is read in --region too (with boto3's default session)
    region = check_region(args.region, "--region") if getattr(args, "region", None) else None
    try:
        return load_with_sources(args.config, "--config", region=region)
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
        raise CannotRun(NO_REGION)
    return str(region) if region else None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, allow_nan=False, default=str))


def run_show(args: argparse.Namespace) -> int:
    from secure_comprehend.posture.origin import origin_of
    from secure_comprehend.posture.show import show_report, show_text

    posture, sources = load(args)
    report = show_report(posture, sources, _region(args, required=False), origin_of(posture))
    if args.json:
        print_json(report)
    else:
        print(show_text(report))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from secure_comprehend.decision.decide import evaluate

    params = _read_request(args.request)
    posture, _ = load(args)
    region = _region(args)
    decision = evaluate(args.operation, params, posture, region=str(region))
    invalid = _botocore_errors(decision)
    _print_decision(decision, posture.mode, invalid, args.json)
    return EXIT_OK if decision.allowed and not invalid else EXIT_NOT_COMPLIANT


def _read_request(name: str) -> dict[str, Any]:
    from pathlib import Path

    from secure_comprehend.posture.documents import unique_keys

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

    from secure_comprehend.decision.operations import default_model

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
        print_json(
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


def run_doctor(args: argparse.Namespace) -> int:
    from secure_comprehend.account.preflight import preflight

    posture, _ = load(args)
    report = preflight(posture, region_name=_region(args), progress=_progress(args, "checking"))
    return _report(args, report)


def run_scan(args: argparse.Namespace) -> int:
    from secure_comprehend.account.scan import scan

    posture, _ = load(args)
    report = scan(
        posture,
        region_name=_region(args),
        since_days=args.since,
        progress=_progress(args, "listing"),
    )
    if report.listed_nothing:
        _report(args, report)
        raise CannotRun("no area could be listed: see the SKIPPED lines for the permissions")
    return _report(args, report)


def _progress(args: argparse.Namespace, verb: str) -> Callable[[str], None]:
    """A progress line per area on a terminal; nothing in a pipe or under --json."""
    interactive = sys.stderr.isatty() and not args.json

    def progress(area: str) -> None:
        if interactive:
            print(f"{verb} {area}...", file=sys.stderr)

    return progress


def _report(args: argparse.Namespace, report: Any) -> int:
    """A doctor or scan report as a table or JSON; exit 0 when ok, else 1."""
    if args.json:
        print_json(report.to_dict())
    else:
        print(str(report))
    return EXIT_OK if report.ok else EXIT_NOT_COMPLIANT


def run_demo(args: argparse.Namespace) -> int:
    from secure_comprehend.cli.demo import run

    return run(args.config)


def run_policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from secure_comprehend.policy.iam import deny_policies
    from secure_comprehend.policy.text import SIZE_LIMITS, compact

    if args.kind == "posture-reader":
        return _posture_reader(args)
    posture, _ = load(args)
    if args.kind in ("data-access-role", "key-policy"):
        return _provisioning(args, posture)
    result = deny_policies(posture, scp=args.kind == "scp", region=args.region)
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


def _posture_reader(args: argparse.Namespace) -> int:
    """policy --kind posture-reader: read access to the fleet source, and nothing else."""
    import os

    from secure_comprehend.policy.reader import reader_policy
    from secure_comprehend.policy.text import compact
    from secure_comprehend.posture.env import CONFIG_VAR, variable
    from secure_comprehend.posture.fleet.sources import FleetSource
    from secure_comprehend.posture.regions import check_region

    named, origin = args.config, "--config"
    if named is None and (var := variable(CONFIG_VAR)) is not None:
        named, origin = os.environ[var], f"environment variable {var}"
    source = FleetSource.parse(named, origin) if named else None
    if source is None:
        raise CannotRun(
            "--kind posture-reader needs a fleet source: --config ssm:/path/name, "
            "secretsmanager:NAME, appconfig:APP/ENV/PROFILE or s3://BUCKET/KEY"
        )
    region = check_region(args.region, "--region") if args.region else None
    document, notes = reader_policy(source, region)
    return _write(args, compact(document), f"the posture-reader policy for {source}", notes)


def _provisioning(args: argparse.Namespace, posture: Any) -> int:
    """policy --kind data-access-role / key-policy: documents keyed by role or key ARN."""
    from secure_comprehend.policy.iam import data_access_role_policies, key_policies
    from secure_comprehend.policy.text import compact

    build = data_access_role_policies if args.kind == "data-access-role" else key_policies
    result = build(posture, region=args.region)
    what = f"{args.kind} documents for {len(result.documents)} ARN(s)"
    return _write(args, compact(result.documents), what, list(result.notes))


def _write(args: argparse.Namespace, text: str, what: str, notes: list[str]) -> int:
    """One JSON text to --out FILE (saying so on stderr) or stdout; then the notes."""
    from pathlib import Path

    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise CannotRun(f"--out {out} is a directory: name a file, e.g. {out / 'policy.json'}")
        out.write_text(text)
        print(f"wrote {what}: {out}", file=sys.stderr)
    else:
        print(text)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK
