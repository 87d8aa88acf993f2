"""What each ``secure-comprehend`` command does, once ``cli`` has parsed its arguments.

Each ``run_*`` takes the parsed arguments and returns the exit code: 0 compliant /
passed, 1 not compliant / a check FAILed; a failure to run raises (``CannotRun``,
``PostureError``, botocore's errors) and ``cli.main`` turns it into exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from secure_comprehend.decision.decide import Decision

EXIT_OK, EXIT_NOT_COMPLIANT, EXIT_CANNOT_RUN = 0, 1, 2
NO_REGION = "no region: pass --region, set AWS_DEFAULT_REGION, or give your profile a region"
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a tool ended by SIGPIPE

EXIT_CODES = """exit codes:
  0  {ok}
  1  {failed}
  2  could not run: usage, posture, credentials, region, network, file or encoding{cannot}"""


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
    # observe mode: the request leaves as the caller built it
    request = dict(params) if posture.mode == "observe" else decision.params
    invalid = _botocore_errors(decision.operation, request)
    _print_decision(decision, request, posture.mode, invalid, args.json)
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


def _botocore_errors(operation: str, request: dict[str, Any]) -> list[str]:
    """botocore's own validation of the request as it would be sent."""
    from botocore.validate import ParamValidator

    from secure_comprehend.decision.operations import default_model

    shape = default_model()[0].operation_model(operation).input_shape
    if shape is None:  # an operation without input: nothing to validate
        return []
    try:
        report = ParamValidator().validate(request, shape)
    except RecursionError:
        return ["the request is nested too deeply to validate"]
    if not report.has_errors():
        return []
    lines = report.generate_report().splitlines()
    return [line for line in lines if line.strip()]


def _print_decision(
    decision: Decision, request: dict[str, Any], mode: str, invalid: list[str], as_json: bool
) -> None:
    sent = not invalid and (decision.allowed or mode != "enforce")
    if as_json:
        print_json(
            {
                "operation": decision.operation,
                "allowed": decision.allowed and not invalid,
                "mode": mode,
                "sent": sent,
                "request": request,
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
        verdict = f"not compliant ({mode} mode: would be sent)"
    elif not decision.allowed:
        verdict = "not compliant, and botocore would refuse it: not sent"
    else:
        verdict = "not valid: botocore would refuse it"
    print(f"{decision.operation}: {verdict}")
    observe = mode == "observe"
    for label, paths in (
        ("the posture would have filled in" if observe else "filled in", decision.injected),
        (
            "the posture would have rewritten key IDs to ARNs"
            if observe
            else "key IDs rewritten to ARNs",
            decision.rewritten,
        ),
    ):
        if paths:
            print(f"  {label}: {', '.join(paths)}")
    for violation in decision.violations:
        print(f"  violation: {violation}")
    for line in invalid:
        print(f"  botocore: {line}")
    print("request as it would be sent:" if sent else "request (not sent):")
    print(json.dumps(request, indent=2, allow_nan=False, default=str))


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
    """policy --kind K: one shape per kind on stdout (the same with --json, as it is JSON
    already), or one file per document with --out.

    identity, scp: a JSON array of policy documents (--out: a file per document);
    data-access-role: an object keyed by role ARN, each {TrustPolicy, PermissionsPolicy};
    key-policy: an object keyed by key ARN, each the list of statements its policy needs;
    posture-reader: one policy document.

    (--format cloudformation / terraform: cli.iac.)
    """
    from secure_comprehend.policy.text import compact

    if args.kind is None:  # no --kind: identity (None tells --format that none was given)
        args.kind = "identity"
    out = _out_target(args.out, args.kind) if args.out is not None else None  # before any work
    if args.kind == "posture-reader":
        document, notes, what = _posture_reader(args)
        texts, printed, why = [compact(document)], compact(document), None
    elif args.kind in ("data-access-role", "key-policy"):
        documents, notes, what = _provisioning(args)
        texts, printed, why = [compact(documents)], compact(documents), None
    else:
        texts, notes, what, why = _deny(args)
        printed = "[" + ",".join(texts) + "]"
    if out is None:
        print(printed)
        if why is not None:
            print(f"{what}: {why}", file=sys.stderr)
    else:
        paths = out.write(texts)
        detail = f" ({why})" if why is not None else ""
        print(f"wrote {what}{detail}: {', '.join(map(str, paths))}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _deny(args: argparse.Namespace) -> tuple[list[str], list[str], str, str]:
    """policy --kind identity / scp: each document's compact text (exactly the text whose
    size was checked), the notes, what they are, and why there are that many."""
    from secure_comprehend.policy.iam import deny_policies
    from secure_comprehend.policy.text import SIZE_LIMITS, compact

    posture, _ = load(args)
    result = deny_policies(posture, scp=args.kind == "scp", region=args.region)
    documents = result.documents
    why = (
        "it fits"
        if len(documents) == 1
        else f"the statements exceed the {SIZE_LIMITS[args.kind]:,}-character {args.kind} "
        "limit together"
    )
    what = f"{len(documents)} {args.kind} document(s)"
    return [compact(d) for d in documents], list(result.notes), what, why


def _posture_reader(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], str]:
    """policy --kind posture-reader: read access to the fleet source, and nothing else."""
    from secure_comprehend.policy.reader import reader_policy
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
    return document, list(notes), f"the posture-reader policy for {source}"


def _provisioning(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], str]:
    """policy --kind data-access-role / key-policy: documents keyed by role or key ARN."""
    from secure_comprehend.policy.iam import data_access_role_policies, key_policies

    posture, _ = load(args)
    build = data_access_role_policies if args.kind == "data-access-role" else key_policies
    result = build(posture, region=args.region)
    what = f"{args.kind} documents for {len(result.documents)} ARN(s)"
    return dict(result.documents), list(result.notes), what


class _Out:
    """Where policy --out writes: FILE (FILE-1, FILE-2, ... for several documents), or
    DIRECTORY/KIND.json (KIND-1.json, ...) when ``directory`` (created if missing)."""

    def __init__(self, raw: str, base: Path, directory: Path | None) -> None:
        self.raw, self.base, self.directory = raw, base, directory

    def write(self, texts: list[str]) -> list[Path]:
        if self.directory is not None and not self.directory.is_dir():
            try:
                self.directory.mkdir()
            except OSError as exc:
                raise CannotRun(
                    f"--out {self.raw}: cannot create the directory {self.directory}: "
                    f"{exc.strerror or exc}"
                ) from exc
        base = self.base
        paths = (
            [base]
            if len(texts) == 1
            else [base.with_name(f"{base.stem}-{i}{base.suffix}") for i in range(1, len(texts) + 1)]
        )
        for path, text in zip(paths, texts, strict=True):
            path.write_text(text)  # exactly the text whose size was checked
        return paths


def _out_target(raw: str, kind: str) -> _Out:
    """--out as a file or a directory; a name that could be either is refused.

    A directory: a name ending in '/', or an existing directory. A file: an existing file,
    or a name with an extension (policy.json). Anything else (``--out deny``) is ambiguous.
    """
    from pathlib import Path

    if not raw.strip():
        raise CannotRun("--out is empty: name a file (policy.json) or a directory (policies/)")
    path = Path(raw)
    if raw.endswith(("/", os.sep)) or path.is_dir():
        if path.exists() and not path.is_dir():
            raise CannotRun(f"--out {raw}: {path} is a file, not a directory")
        return _Out(raw, path / f"{kind}.json", path)
    if path.exists() or path.suffix:
        return _Out(raw, path, None)
    raise CannotRun(
        f"--out {raw}: neither a directory nor a file name with an extension: write "
        f"{raw}/ for a directory (one file per document inside it) or {raw}.json for a file"
    )
