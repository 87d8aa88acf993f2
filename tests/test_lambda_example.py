"""examples/lambda_handler.py under moto, with a real S3 ObjectCreated event payload."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import GROUPS, KEYS, REGION, ROLES, SUBNETS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lambda_handler.py"
# The event S3 sends for s3:ObjectCreated:Put (AWS Lambda documentation), abridged only in ids.
EVENT: dict[str, Any] = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": "2026-11-29T12:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.10"},
            "responseElements": {
                "x-amz-request-id": "C3D13FE58DE4C810",
                "x-amz-id-2": "FMyUVURIY8",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "entities-on-upload",
                "bucket": {
                    "name": "corp-ml-inbox",
                    "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                    "arn": "arn:aws:s3:::corp-ml-inbox",
                },
                "object": {
                    "key": "tickets/2026/ticket+42.txt",
                    "size": 1024,
                    "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                    "sequencer": "0055AED6DCD90281E5",
                },
            },
        }
    ]
}


@pytest.fixture
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # Lambda sets it (and AWS_REGION)
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SUBNETS", f'["{SUBNETS[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SECURITY_GROUP_IDS", f'["{GROUPS[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_KMS__VOLUME_KEY", KEYS["volume_key"])
    monkeypatch.setenv("SECURE_COMPREHEND_KMS__OUTPUT_KEY", KEYS["output_key"])
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    monkeypatch.setenv("OUTPUT_PREFIX", "s3://corp-ml-results/entities/")


@pytest.mark.usefixtures("moto", "lambda_environment")
def test_the_handler_starts_a_job_with_the_posture_filled_in() -> None:
    spec = importlib.util.spec_from_file_location("lambda_handler", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("lambda_handler", None)
    spec.loader.exec_module(module)  # the cold start: module-level client, posture read once
    result = module.handler(EVENT, None)
    [job] = result["jobs"]
    recorded = boto3.client("comprehend", region_name=REGION).describe_entities_detection_job(
        JobId=job
    )["EntitiesDetectionJobProperties"]
    assert recorded["InputDataConfig"]["S3Uri"] == "s3://corp-ml-inbox/tickets/2026/ticket 42.txt"
    assert recorded["VpcConfig"] == {"Subnets": [SUBNETS[0]], "SecurityGroupIds": [GROUPS[0]]}
    assert recorded["VolumeKmsKeyId"] == KEYS["volume_key"]
    assert recorded["OutputDataConfig"]["KmsKeyId"] == KEYS["output_key"]
    assert recorded["DataAccessRoleArn"] == ROLES[0]
    assert module.handler(EVENT, None)["jobs"] != [job]  # the warm container reuses its client
