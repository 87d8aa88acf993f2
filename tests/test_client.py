"""client(), patch() and unpatch()."""

from __future__ import annotations

from pathlib import Path

import boto3
import botocore.session
import pytest
from conftest import EXAMPLE_CONFIG, OTHER_SUBNET, REGION, ROLES, make_posture

import secure_comprehend as sc

pytestmark = pytest.mark.usefixtures("moto")
ENDPOINT = {"EndpointName": "e", "ModelArn": f"arn:aws:comprehend:{REGION}:1:document-classifier/c"}
BAD_VPC = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": ["sg-0123456789abcdef0"]}


def role_of(client: object) -> str:
    arn = client.create_endpoint(DesiredInferenceUnits=1, **ENDPOINT)["EndpointArn"]  # type: ignore[attr-defined]
    props = client.describe_endpoint(EndpointArn=arn)["EndpointProperties"]  # type: ignore[attr-defined]
    return str(props.get("DataAccessRoleArn"))


def test_client_loads_the_posture_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(EXAMPLE_CONFIG))
    assert role_of(sc.client(region_name=REGION)) == ROLES[0]


def test_client_without_any_posture_is_never_built() -> None:
    with pytest.raises(sc.PostureError, match="no posture found"):
        sc.client(region_name=REGION)


def test_client_takes_session_and_config() -> None:
    from botocore.config import Config

    session = boto3.Session(region_name=REGION)
    client = sc.client(
        posture=make_posture(), session=session, config=Config(user_agent_extra="sc-test")
    )
    assert client.meta.region_name == REGION
    assert client.meta.config.user_agent_extra == "sc-test"
    assert role_of(client) == ROLES[0]


@pytest.fixture
def patched() -> object:
    sc.patch(make_posture())
    yield
    sc.unpatch()


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize(
    "make",
    [
        lambda: boto3.client("comprehend", region_name=REGION),
        lambda: boto3.Session().client("comprehend", region_name=REGION),
        lambda: botocore.session.get_session().create_client("comprehend", region_name=REGION),
    ],
    ids=["boto3.client", "boto3.Session().client", "botocore session"],
)
def test_patch_protects_clients_created_afterwards(make: object) -> None:
    client = make()  # type: ignore[operator]
    assert role_of(client) == ROLES[0]
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(
            InputDataConfig={"S3Uri": "s3://i/"},
            OutputDataConfig={"S3Uri": "s3://o/"},
            LanguageCode="en",
            VpcConfig=BAD_VPC,
        )


def test_patch_covers_an_existing_default_session() -> None:
    boto3.setup_default_session(region_name=REGION)
    sc.patch(make_posture())
    try:
        assert role_of(boto3.client("comprehend")) == ROLES[0]
    finally:
        sc.unpatch()


@pytest.mark.usefixtures("moto")
def test_patch_refuses_covered_calls_in_an_uncovered_region_not_the_client() -> None:
    sc.patch(make_posture())
    try:
        client = boto3.client("comprehend", region_name="eu-west-1")  # created: not our client
        with pytest.raises(sc.PostureViolation, match=r"no posture for eu-west-1: .*us-east-1"):
            client.start_topics_detection_job(
                InputDataConfig={"S3Uri": "s3://in/"}, OutputDataConfig={"S3Uri": "s3://out/"}
            )
        assert client.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"] == []
    finally:
        sc.unpatch()


def test_unpatch_restores_plain_clients() -> None:
    boto3.setup_default_session(region_name=REGION)
    sc.patch(make_posture())
    sc.unpatch()
    for client in (
        boto3.client("comprehend"),
        boto3.Session(region_name=REGION).client("comprehend"),
    ):
        assert role_of(client) == "None"


def test_patch_without_posture_fails_before_patching(tmp_path: Path) -> None:
    with pytest.raises(sc.PostureError):
        sc.patch()
    assert role_of(boto3.client("comprehend", region_name=REGION)) == "None"
