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
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def example_config() -> Path:
    """config.example.toml: packaged in the wheel, or at the top of a source checkout."""
    packaged = resources.files("secure_comprehend").joinpath("config.example.toml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "config.example.toml"


class _Injections(logging.Handler):
    """Collects what the protected client reports it filled in."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.members: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.members.extend(getattr(record, "injected", ()))


@contextmanager
def _fake_credentials() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in _FAKE_CREDENTIALS}
    os.environ.update(_FAKE_CREDENTIALS)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(config: str | None = None) -> int:
    """Train a classifier, start a job, and show a refused request; returns the exit code."""
    try:
        from moto import mock_aws
    except ImportError:
        print("the demo needs moto: pip install 'secure-comprehend[demo]'", file=sys.stderr)
        return 2
    import secure_comprehend as sc

    path = Path(config) if config else example_config()
    posture = sc.load_posture(path)
    print(f"posture: {path} (mode: {posture.mode})\n")
    injections = _Injections()
    logger = logging.getLogger("secure_comprehend")
    logger.addHandler(injections)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with _fake_credentials(), mock_aws():
            comprehend = sc.client(region_name=REGION, posture=posture)
            for title, step in (
                ("CreateDocumentClassifier", _train),
                ("StartEntitiesDetectionJob", _start_job),
            ):
                injections.members.clear()
                given, recorded = step(comprehend)
                _show(title, given, injections.members, recorded)
            return _refused(comprehend)
    finally:
        logger.removeHandler(injections)
        logger.setLevel(level)


def _show(title: str, given: dict[str, Any], injected: list[str], recorded: dict[str, Any]) -> None:
    print(f"== {title}")
    print(f"   you gave:     {', '.join(given)}")
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


def _train(comprehend: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    given: dict[str, Any] = {
        "DocumentClassifierName": "support-tickets",
        "LanguageCode": "en",
        "InputDataConfig": {"S3Uri": "s3://demo-training/tickets.csv"},
    }
    arn = comprehend.create_document_classifier(**given)["DocumentClassifierArn"]
    described = comprehend.describe_document_classifier(DocumentClassifierArn=arn)
    return given, described["DocumentClassifierProperties"]


def _start_job(comprehend: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    given: dict[str, Any] = {
        "JobName": "entities-nightly",
        "LanguageCode": "en",
        "InputDataConfig": {"S3Uri": "s3://demo-input/docs/"},
        "OutputDataConfig": {"S3Uri": "s3://demo-output/entities/"},
    }
    job = comprehend.start_entities_detection_job(**given)["JobId"]
    described = comprehend.describe_entities_detection_job(JobId=job)
    return given, described["EntitiesDetectionJobProperties"]


def _refused(comprehend: Any) -> int:
    import secure_comprehend as sc

    before = len(comprehend.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"])
    print("== StartEntitiesDetectionJob in an unapproved subnet")
    try:
        comprehend.start_entities_detection_job(
            JobName="entities-wrong-subnet",
            LanguageCode="en",
            InputDataConfig={"S3Uri": "s3://demo-input/docs/"},
            OutputDataConfig={"S3Uri": "s3://demo-output/entities/"},
            VpcConfig={
                "Subnets": ["subnet-0badc0ffee0000000"],
                "SecurityGroupIds": ["sg-0123456789abcdef0"],
            },
        )
    except sc.PostureViolation as exc:
        print(f"   refused: {exc}".replace("\n", "\n   "))
    else:
        print("   NOT refused: the posture does not cover VpcConfig")
        return 1
    after = len(comprehend.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"])
    print(f"   jobs the service knows: {before} before, {after} after: nothing reached it")
    return 0 if after == before else 1
