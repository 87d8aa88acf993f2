"""What the fleet tests share: a posture document, a clock for the cache, moto's SSM with
the posture in it (fixtures, registered by conftest's ``pytest_plugins``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import GROUPS, KEYS, REGION, ROLES, SUBNETS

import secure_comprehend as sc
from secure_comprehend.posture.fleet import cache as _live

OTHER_SUBNETS = ("subnet-0aaaaaaaaaaaaaaa0",)


PARAMETER = "/org/comprehend/posture"


def posture_toml(subnets: tuple[str, ...] = SUBNETS, mode: str = "enforce") -> str:
    return f"""
mode = "{mode}"
[vpc]
subnets = {json.dumps(list(subnets))}
security_group_ids = {json.dumps(list(GROUPS))}
[kms]
volume_key = "{KEYS["volume_key"]}"
output_key = "{KEYS["output_key"]}"
model_key = "{KEYS["model_key"]}"
data_lake_key = "{KEYS["data_lake_key"]}"
[iam]
data_access_roles = {json.dumps(list(ROLES))}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(_live, "_now", clock)
    sc.clear_posture_cache()
    yield clock
    sc.clear_posture_cache()


@pytest.fixture
def region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def ssm(moto: None, region: None, clock: Clock) -> Any:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(), Type="SecureString")
    return ssm


def start_job(client: Any, **params: Any) -> dict[str, Any]:
    """Start a job with business parameters (and ``params``); what Comprehend recorded."""
    job = client.start_entities_detection_job(
        InputDataConfig={"S3Uri": "s3://in/docs/"},
        OutputDataConfig={"S3Uri": "s3://out/"},
        LanguageCode="en",
        **params,
    )
    described = client.describe_entities_detection_job(JobId=job["JobId"])
    return dict(described["EntitiesDetectionJobProperties"])


def vpc_of(client: Any) -> list[str]:
    return list(start_job(client)["VpcConfig"]["Subnets"])
