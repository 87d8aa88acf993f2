"""The ``secure-comprehend`` command: show, check, policy, doctor, scan, demo, init, why,
publish.

Exit codes for every command: 0 compliant / passed, 1 not compliant / a check
FAILed, 2 could not run (usage, posture, credentials, region, network, file,
encoding). A failure to run is one line ``secure-comprehend: error: ...`` on
stderr that says what to do (and a JSON error object on stdout under
``--json``); ``--debug`` (before or after the command) prints the traceback before
that line, and the exit code stays 2. A closed pipe is quiet.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from typing import TYPE_CHECKING, Any

from secure_comprehend.cli import commands, iac, init, publish, why
from secure_comprehend.cli.commands import EXIT_BROKEN_PIPE, EXIT_CANNOT_RUN, EXIT_CODES, CannotRun

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parse(_parser(), argv)
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
        if args.debug:  # the traceback, then the same line and exit code as without --debug
            traceback.print_exc(file=sys.stderr)
        message = _explain(exc)
        print(f"secure-comprehend: error: {message}", file=sys.stderr)
        if args.json:
            commands.print_json({"error": {"type": type(exc).__name__, "message": message}})
        return EXIT_CANNOT_RUN


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; one the command does not know is a usage error of that command (its
    usage, exit 2), and a command's option given before the command says where it goes."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sub: argparse.ArgumentParser = args.command_parser
        for arg in unknown:
            option = arg.split("=", 1)[0]
            if option in sub._option_string_actions:
                sub.error(f"{option} goes after the command: {sub.prog} {option} ...")
        sub.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


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
        return commands.NO_REGION
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
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    subcommands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        name: str,
        summary: str,
        text: str,
        example: str,
        ok: str,
        failed: str,
        json: str | None = "print JSON instead of a table",
        cannot: str = "",
    ) -> Any:
        sub = subcommands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. {text}",
            epilog=f"example:\n  {example}\n\n"
            + EXIT_CODES.format(ok=ok, failed=failed, cannot=cannot),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if json:
            sub.add_argument("--json", action="store_true", help=json)
        else:
            sub.set_defaults(json=False)
        # SUPPRESS: a subcommand's default must not undo --debug given before the command
        sub.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
        sub.set_defaults(command_parser=sub)
        return sub

    show = command(
        "show",
        "the posture and where each value came from",
        "Without --region: the top-level sections and the regions that have their own. "
        "With --region: the effective posture of that region, each value credited to the "
        "file, variable or section that set it. Reads nothing from AWS, but a fleet "
        "source that --config or SECURE_COMPREHEND_CONFIG names.",
        "secure-comprehend show --region eu-west-1",
        "shown",
        "(not used)",
    )
    _posture_options(show, region="the region whose effective posture to show (default: none)")
    show.set_defaults(run=commands.run_show)

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
    check.set_defaults(run=commands.run_check)

    policy = command(
        "policy",
        "the posture as IAM policies or SCPs",
        "Deny-only documents that make AWS enforce what the client enforces, from the same "
        "posture and botocore model. Notes on stderr say what a policy cannot express.",
        "secure-comprehend policy --kind scp --out scp.json",
        "printed or written",
        "(not used)",
        json="the same output: the documents are JSON already (shapes: docs/cli.md)",
    )
    policy.add_argument(
        "--kind",
        choices=["identity", "scp", "data-access-role", "key-policy", "posture-reader"],
        default=None,  # identity; None lets --format cloudformation|terraform refuse a --kind
        help="identity (default) or scp: Deny-only documents; data-access-role: each role's "
        "trust and permissions policies; key-policy: the statement each key's policy needs; "
        "posture-reader: read access to the fleet source --config names, and nothing else",
    )
    policy.add_argument(
        "--format",
        choices=["json", "cloudformation", "terraform"],
        default="json",
        help="json (default): the documents of --kind; cloudformation: one JSON template, "
        "terraform: one .tf.json module, each with every document but posture-reader at once "
        "(so without --kind), and parameters or variables for what the posture does not know",
    )
    _posture_options(policy, region="only this region (default: every region, others denied)")
    policy.add_argument(
        "--out",
        metavar="FILE|DIR/",
        help="write one file per document instead: FILE.json (FILE-1.json, FILE-2.json, ... "
        "when there are several), or into DIR/ (an existing directory, or a name ending in "
        "'/', created): KIND.json (KIND-1.json, ...); a name without an extension that does "
        "not exist is refused; with --format: the one file (Terraform's name must end in "
        ".tf.json), or DIR/secure-comprehend.template.json or DIR/secure-comprehend.tf.json",
    )
    policy.set_defaults(run=iac.run)

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
    doctor.set_defaults(run=commands.run_doctor)

    scan = command(
        "scan",
        "judge what already exists against the posture",
        "Lists every Comprehend resource of the region (models with their versions, endpoints, "
        "flywheels, and jobs submitted in the last --since days) and judges each as the request "
        "that made it. Read-only. Audit first with scan, then turn on enforce.",
        "secure-comprehend scan --region us-east-1 --since 7",
        "every area was listed and every resource is compliant",
        "some resource is not compliant, or some area could not be listed (SKIPPED)",
        cannot="; or no area could be listed",
    )
    _posture_options(scan, region="the region to scan (default: as boto3)")
    scan.add_argument(
        "--since",
        type=_days,
        default=30,
        metavar="DAYS",
        help=f"jobs of the last DAYS days, 1 to {MAX_DAYS} (30)",
    )
    scan.set_defaults(run=commands.run_scan)

    demo = command(
        "demo",
        "run a protected client against in-process moto",
        "Trains a classifier and starts a job with business parameters only, then shows a "
        "request the posture refuses. Needs the 'demo' extra (moto); no AWS account.",
        "secure-comprehend demo --config my-posture.toml",
        "the demo ran and the posture held",
        "a request the posture should refuse was sent",
        json=None,
    )
    demo.add_argument(
        "--config",
        help="posture file: TOML, or JSON when its name ends in .json "
        "(default: config.example.toml)",
    )
    demo.set_defaults(run=commands.run_demo)
    # commands with a module of their own: module.register(command, _posture_options)
    for module in (init, why, publish):
        module.register(command, _posture_options)
    return parser


def _posture_options(parser: argparse.ArgumentParser, *, region: str) -> None:
    parser.add_argument(
        "--config",
        help="posture file (TOML, or JSON when its name ends in .json), or fleet source: "
        "ssm:/path/name, secretsmanager:NAME, appconfig:APP/ENV/PROFILE, s3://BUCKET/KEY "
        "(default: SECURE_COMPREHEND_* and the lookup)",
    )
    parser.add_argument("--region", help=region)


_DEBUG_HELP = "show a traceback on errors (the exit code stays 2)"
MAX_DAYS = 36500  # a hundred years: every job there is, and a date Python can compute


def _days(text: str) -> int:
    """scan --since: a whole number of days, 1 to MAX_DAYS, in plain digits."""
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"DAYS must be a whole number from 1 to {MAX_DAYS}, not {text!r}"
        )
    return int(text)


def _version() -> str:
    import secure_comprehend

    return str(secure_comprehend.__version__)
