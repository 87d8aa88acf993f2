"""``secure-comprehend publish SOURCE``: write a posture file to a fleet source.

The posture file (``--config``, else ``SECURE_COMPREHEND_CONFIG``, else the default
files) is validated on its own, without this shell's ``SECURE_COMPREHEND_*`` variables
(each reader applies its own), and its text, comments included, is written to SOURCE as
the readers read it: a new version of the parameter, secret or object. An invalid
posture, a source that cannot be written or a document too large for it is refused
before anything is written (exit 2). AppConfig deploys through its own pipeline: for an
``appconfig:`` source the AWS CLI commands that deploy the file are printed, and nothing
is written (exit 0).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from secure_comprehend.cli.commands import EXIT_OK, CannotRun, print_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from secure_comprehend.posture.fleet.publish import PostureFile, Published
    from secure_comprehend.posture.fleet.sources import FleetSource

_FORMS = "ssm:/path/name, secretsmanager:NAME, s3://BUCKET/KEY or appconfig:APP/ENV/PROFILE"


def register(command: Callable[..., Any], posture_options: Callable[..., None]) -> None:
    """Add ``publish`` to the command line (``command`` is ``cli``'s helper).

    ``posture_options`` is not used: publish reads a posture file, never a fleet source,
    so its ``--config`` says so.
    """
    publish = command(
        "publish",
        "write the posture file to a fleet source",
        "Validates the posture file on its own (the SECURE_COMPREHEND_* variables of this "
        "shell are not published: each reader applies its own), then writes its text, "
        "comments included, to SOURCE as readers read it, and prints the version written. "
        "An invalid posture is never written. ssm: a new parameter is a SecureString, an "
        "existing one keeps its type; secretsmanager: a new secret is created; s3: the "
        "object is replaced (in a bucket of this account, or of ?owner=). Each publish is a "
        "new version. appconfig: AppConfig deploys through its own pipeline, so nothing is "
        "written: the AWS CLI commands that deploy the file are printed.",
        "secure-comprehend publish ssm:/org/comprehend/posture --config posture.toml "
        "--region us-east-1",
        "published (appconfig: the posture is valid and the commands are printed)",
        "(not used)",
    )
    publish.add_argument("source", metavar="SOURCE", help=f"where readers read it: {_FORMS}")
    publish.add_argument(
        "--config",
        help="the posture file to publish (TOML, or JSON when its name ends in .json; "
        "default: SECURE_COMPREHEND_CONFIG, then the lookup)",
    )
    publish.add_argument(
        "--region", help="the region to write in (default: as boto3; an ARN's region wins)"
    )
    publish.add_argument(
        "--kms-key",
        metavar="KEY",
        help="the KMS key to encrypt with (SSM KeyId, Secrets Manager KmsKeyId, S3 SSE-KMS); "
        "default: a new parameter or secret uses the account's default key, an update names "
        "none, an S3 object gets the bucket's default encryption",
    )
    publish.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from secure_comprehend.posture.fleet.cache import clear_posture_cache
    from secure_comprehend.posture.fleet.publish import posture_file, publish, writable
    from secure_comprehend.posture.loading import default_session
    from secure_comprehend.posture.regions import check_region

    source = _source(args.source)  # a misspelt source: the reader's own error
    writable(source)
    if args.kms_key is not None and not args.kms_key.strip():
        raise CannotRun("--kms-key is empty: name a key (ID, ARN or alias/NAME)")
    if args.kms_key and source.scheme == "appconfig":
        raise CannotRun(
            "--kms-key does not apply to appconfig: AppConfig encrypts with the configuration "
            "profile's key (KmsKeyIdentifier)"
        )
    region = check_region(args.region, "--region") if args.region else None
    document = posture_file(args.config)  # validated: nothing is written otherwise
    _note_environment()
    if source.scheme == "appconfig":
        return _appconfig(args, source, document, region)
    published = publish(source, document, default_session(), region, args.kms_key)
    clear_posture_cache()  # this process reads the new version at once (readers: at their TTL)
    _print(args, document, published)
    return EXIT_OK


def _source(text: str) -> FleetSource:
    from secure_comprehend.posture.fleet.sources import FleetSource

    source = FleetSource.parse(text, "SOURCE")
    if source is None:
        raise CannotRun(
            f"SOURCE {text!r} is not a fleet source: name one of {_FORMS} (the posture file "
            "goes in --config)"
        )
    return source


def _note_environment() -> None:
    """Say which of this shell's variables the published document does not carry."""
    from secure_comprehend.posture.env import CONFIG_VAR, ENV_PREFIX, TTL_VAR

    names = sorted(
        var
        for var in os.environ
        if var.upper().startswith(ENV_PREFIX) and var.upper() not in (CONFIG_VAR, TTL_VAR)
    )
    if names:
        print(
            f"note: not published: {', '.join(names)} (set in this shell; each reader applies "
            "its own SECURE_COMPREHEND_* variables over the document)",
            file=sys.stderr,
        )


def _describe(document: PostureFile) -> str:
    kind = "JSON" if document.is_json else "TOML"
    return f"{document.path} ({document.size:,} bytes, {kind})"


def _print(args: argparse.Namespace, document: PostureFile, published: Published) -> None:
    details = published.details
    if args.json:
        print_json(
            {
                "published": True,
                "source": str(published.source),
                "region": published.region,
                "file": str(document.path),
                "bytes": document.size,
                "format": "json" if document.is_json else "toml",
                "version": published.version,
                "created": published.created,
                **details,
            }
        )
        return
    scheme = published.source.scheme
    if scheme == "s3" and "version_id" not in details:
        version = f"ETag {published.version} (the bucket is not versioned)"
    else:
        version = f"version {published.version}"
    print(f"published {_describe(document)} to {published.source} in {published.region}: {version}")
    what = {"ssm": "parameter", "secretsmanager": "secret", "s3": "object"}[scheme]
    facts = []
    if published.created:
        kind = details.get("type")
        facts.append(f"a new {kind} {what}" if kind else f"a new {what}")
    elif published.created is False:
        kept = " (its type kept)" if scheme == "ssm" else ""
        facts.append(f"a new version of the {what}{kept}")
    if "tier" in details:
        facts.append(f"{details['tier']} tier")
    if "kms_key" in details:
        facts.append(f"encrypted with {details['kms_key']}")
    if facts:
        print(f"  {', '.join(facts)}")
    print(
        "readers follow within their SECURE_COMPREHEND_CONFIG_TTL (300 s by default); read "
        f"it back: secure-comprehend doctor --config {published.source} --region "
        f"{published.region}"
    )


def _appconfig(
    args: argparse.Namespace, source: FleetSource, document: PostureFile, region: str | None
) -> int:
    from secure_comprehend.posture.fleet.publish import appconfig_commands
    from secure_comprehend.posture.loading import default_session

    region = region or default_session().region_name  # None: the commands name none
    commands, notes = appconfig_commands(source, document, region)
    if args.json:
        print_json(
            {
                "published": False,
                "source": str(source),
                "region": region,
                "file": str(document.path),
                "bytes": document.size,
                "format": "json" if document.is_json else "toml",
                "commands": commands,
                "notes": notes,
            }
        )
        return EXIT_OK
    print(
        f"{_describe(document)} is a valid posture. Nothing was written to {source}: "
        "AppConfig deploys through its own pipeline. Deploy it with:"
    )
    for line in commands:
        print(f"  {line}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK
