"""``secure-comprehend demo``: a protected client against an in-process moto backend."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-east-1"
MOTO = "moto[comprehend]>=5.1"  # what the 'demo' extra installs (pyproject.toml)
# The demo's own environment: fake credentials, and none of the machine's AWS settings
# (a profile, an endpoint URL such as LocalStack's, config files) can reach its clients.
_ISOLATED = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
}


def example_config() -> Path:
    """config.example.toml: packaged in the wheel, or at the top of a source checkout."""
    packaged = resources.files("secure_comprehend").joinpath("config.example.toml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "config.example.toml"


class _Injections(logging.Handler):
    """Collects what the protected client reports it filled in."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.members: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.members.extend(getattr(record, "injected", ()))
        if record.levelno >= logging.WARNING:
            self.warnings.append(record.getMessage())


@contextmanager
def _isolated() -> Iterator[None]:
    """The process environment as the demo needs it, restored afterwards."""
    dropped = [
        k
        for k in os.environ
        if k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") or k.startswith("AWS_ENDPOINT_URL")
    ]
    saved = {k: os.environ.get(k) for k in [*_ISOLATED, *dropped]}
    for key in dropped:
        del os.environ[key]
    os.environ.update(_ISOLATED)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


DEMO_ROLE = "arn:aws:iam::123456789012:role/DemoComprehendAccess"  # when the posture has none
UNAPPROVED = {
    "vpc": (
        "VpcConfig",
        {"Subnets": ["subnet-0badc0ffee0000000"], "SecurityGroupIds": ["sg-0badc0ffee0000000"]},
    ),
    "kms": (
        "VolumeKmsKeyId",
        "arn:aws:kms:us-east-1:123456789012:key/0badc0ff-ee00-4000-8000-000000000000",
    ),
    "iam": ("DataAccessRoleArn", "arn:aws:iam::123456789012:role/Unapproved"),
}


def run(config: str | None = None) -> int:
    """Train a classifier, start a job, and show a request the posture refuses.

    Works with any valid posture: what the posture does not supply (a data-access
    role, say) the demo supplies itself, and the refused request breaks a section
    the posture does configure. Returns the exit code.
    """
    try:
        from moto import mock_aws
    except ImportError:
        # not "pip install 'secure-comprehend[demo]'": the package is not on PyPI yet
        print(
            f"secure-comprehend: error: the demo needs moto, which is not installed: "
            f"pip install '{MOTO}' (the 'demo' extra; in a clone: pip install '.[demo]')",
            file=sys.stderr,
        )
        return 2
    import secure_comprehend as sc
    from secure_comprehend.posture.fleet.sources import FleetSource
    from secure_comprehend.posture.loading import load_with_sources

    if config and FleetSource.parse(config, "--config") is not None:
        print(
            f"secure-comprehend: error: demo --config takes a posture file, not {config!r}: "
            "the demo runs against an in-process moto, where no fleet source exists",
            file=sys.stderr,
        )
        return 2
    path = Path(config) if config else example_config()
    posture, sources = load_with_sources(path, "--config")  # TOML, or JSON named *.json
    mode_from = sources.get(("mode",), "the default")
    print(f"posture: {path} (mode: {posture.mode}, from {mode_from})\n")
    injections = _Injections()
    logger = logging.getLogger("secure_comprehend")
    logger.addHandler(injections)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with _isolated(), mock_aws():
            import boto3

            session = boto3.Session(region_name=REGION)  # made here: no profile, no endpoint
            comprehend = sc.client(region_name=REGION, posture=posture, session=session)
            # observe mode fills nothing in: the caller gives the role, as without [iam]
            fills_role = posture.effective(REGION).iam and posture.mode != "observe"
            supplied = {} if fills_role else {"DataAccessRoleArn": DEMO_ROLE}
            for title, step in (
                ("CreateDocumentClassifier", _train),
                ("StartEntitiesDetectionJob", _start_job),
            ):
                injections.members.clear()
                given, recorded = step(comprehend, supplied)
                _show(title, given, injections.members, recorded, posture.mode)
            status = _violating(comprehend, posture.mode, supplied, posture.effective(REGION))
            if posture.mode != "enforce":
                for warning in injections.warnings:
                    print(f"   WARNING {warning}".replace("\n", "\n   "))
            return status
    finally:
        logger.removeHandler(injections)
        logger.setLevel(level)


def _show(
    title: str, given: dict[str, Any], injected: list[str], recorded: dict[str, Any], mode: str
) -> None:
    print(f"== {title}")
    print(f"   you gave:     {', '.join(given)}")
    if mode == "observe":  # nothing was filled in: the log says what would have been
        print(f"   would inject: {', '.join(injected) or 'nothing'} (observe mode: sent as given)")
        injected = []
    else:
        print(f"   injected:     {', '.join(injected) or 'nothing'}")
    print("   the service recorded:")
    for key in (
        "DataAccessRoleArn",
        "VolumeKmsKeyId",
        "ModelKmsKeyId",
        "OutputDataConfig",
        "VpcConfig",
    ):
        if key in recorded:
            print(f"     {key}: {recorded[key]}")
        elif any(member.startswith(key) for member in injected):
            print(f"     {key}: (moto's Describe* does not return it)")
    print()


def _train(comprehend: Any, supplied: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    given: dict[str, Any] = {
        "DocumentClassifierName": "support-tickets",
        "LanguageCode": "en",
        "InputDataConfig": {"S3Uri": "s3://demo-training/tickets.csv"},
        **supplied,
    }
    arn = comprehend.create_document_classifier(**given)["DocumentClassifierArn"]
    described = comprehend.describe_document_classifier(DocumentClassifierArn=arn)
    return given, described["DocumentClassifierProperties"]


def _start_job(comprehend: Any, supplied: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    given: dict[str, Any] = {
        "JobName": "entities-nightly",
        "LanguageCode": "en",
        "InputDataConfig": {"S3Uri": "s3://demo-input/docs/"},
        "OutputDataConfig": {"S3Uri": "s3://demo-output/entities/"},
        **supplied,
    }
    job = comprehend.start_entities_detection_job(**given)["JobId"]
    described = comprehend.describe_entities_detection_job(JobId=job)
    return given, described["EntitiesDetectionJobProperties"]


def _violating(comprehend: Any, mode: str, supplied: dict[str, Any], effective: Any) -> int:
    """Send a request that breaks a section the posture configures; say what happened."""
    import secure_comprehend as sc

    section = next(name for name in UNAPPROVED if getattr(effective, name) is not None)
    member, value = UNAPPROVED[section]
    request = {
        "JobName": f"entities-unapproved-{section}",
        "LanguageCode": "en",
        "InputDataConfig": {"S3Uri": "s3://demo-input/docs/"},
        "OutputDataConfig": {"S3Uri": "s3://demo-output/entities/"},
        **supplied,
        member: value,
    }
    before = _jobs(comprehend)
    print(f"== StartEntitiesDetectionJob with an unapproved {member}")
    try:
        comprehend.start_entities_detection_job(**request)
    except sc.PostureViolation as exc:
        print(f"   refused: {exc}".replace("\n", "\n   "))
    after = _jobs(comprehend)
    if mode != "enforce":
        print(
            f"   {mode} mode: sent anyway and logged at WARNING; jobs the service knows: "
            f"{before} before, {after} after"
        )
        return 0 if after == before + 1 else 1
    print(f"   jobs the service knows: {before} before, {after} after: nothing reached it")
    return 0 if after == before else 1


def _jobs(comprehend: Any) -> int:
    return len(comprehend.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"])
