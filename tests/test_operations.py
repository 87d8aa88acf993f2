"""The operations table, walked from botocore's comprehend model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest

from secure_comprehend.decision.operations import operations_for
from secure_comprehend.posture.kinds import CORE_KINDS

MODEL = botocore.session.get_session().get_service_model("comprehend")
TABLE = operations_for(MODEL)


def test_counts_match_the_iam_condition_keys() -> None:
    # 14 operations carry a VPC or KMS member, 16 a data-access role (IAM
    # Service Authorization Reference); every other operation carries neither.
    vpc_or_kms = {
        n for n, s in TABLE.specs.items() if any(m.kind in CORE_KINDS - {"role"} for m in s.members)
    }
    roles = {n for n, s in TABLE.specs.items() if any(m.kind == "role" for m in s.members)}
    assert len(vpc_or_kms) == 14
    assert len(roles) == 16
    assert {n for n, s in TABLE.specs.items() if s.core} == vpc_or_kms | roles
    # beyond those, only the [s3] and [models] kinds: CreateDataset names S3 URIs only,
    # PutResourcePolicy a resource policy only, StartFlywheelIteration the flywheel it trains
    assert {n for n, s in TABLE.specs.items() if not s.core} == {
        "CreateDataset",
        "PutResourcePolicy",
        "StartFlywheelIteration",
    }
    assert not any(spec.unknown or spec.unknown_s3 for spec in TABLE.specs.values())


def test_every_member_path_exists_in_the_model() -> None:
    for name, spec in TABLE.specs.items():
        for member in (m for m in spec.members if m.kind in CORE_KINDS):
            shape: Any = MODEL.operation_model(name).input_shape
            for part in member.path:
                shape = shape.members[part]
            expected = "structure" if member.kind == "vpc" else "string"
            assert shape.type_name == expected, (name, member.path)


def test_output_key_lives_in_output_data_config_and_alone_takes_aliases() -> None:
    for spec in TABLE.specs.values():
        for member in (m for m in spec.members if m.kind in CORE_KINDS):
            assert member.accepts_alias == (member.kind == "output_key")
            if member.kind == "output_key":
                assert member.path == ("OutputDataConfig", "KmsKeyId")


def test_updates_are_flagged_and_only_updates() -> None:
    updates = {n for n, s in TABLE.specs.items() if s.is_update}
    assert updates == {"UpdateFlywheel", "UpdateEndpoint"}


def test_uncovered_operations_are_absent() -> None:
    for name in ("DetectSentiment", "DescribeEntitiesDetectionJob", "ListEndpoints"):
        assert name in MODEL.operation_names
        assert TABLE.get(name) is None


def test_optional_output_config_is_buildable_required_one_is_not() -> None:
    def output(op: str) -> bool:
        spec = TABLE.specs[op]
        return next(m.buildable for m in spec.members if m.kind == "output_key")

    assert output("CreateDocumentClassifier")  # optional parent without required members
    assert not output("StartEntitiesDetectionJob")  # OutputDataConfig needs S3Uri


def test_walked_once_per_model_document() -> None:
    session = botocore.session.get_session()
    model, loader = session.get_service_model("comprehend"), session.get_component("data_loader")
    table = operations_for(model, loader)
    assert operations_for(session.get_service_model("comprehend"), loader) is table
    assert operations_for(model) is not table  # without its loader: walked again, equal
    assert operations_for(model) == table == TABLE


def _add_member(
    op_shape: str, name: str, target: str = "String"
) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["shapes"].setdefault(target, {"type": "string"})
        document["shapes"][op_shape]["members"][name] = {"shape": target}

    return change


@pytest.mark.parametrize(
    ("shape", "member", "path"),
    [
        ("DetectSentimentRequest", "KmsKeyArn", "KmsKeyArn"),
        ("InputDataConfig", "KmsKeyId", "InputDataConfig.KmsKeyId"),
        ("VpcConfig", "SubnetIdsV2", "VpcConfig.SubnetIdsV2"),
        ("CreateEndpointRequest", "ExecutionRole", "ExecutionRole"),
    ],
)
def test_unknown_security_member_fails_closed(
    modified_session: Callable[[Callable[[dict[str, Any]], None]], boto3.Session],
    shape: str,
    member: str,
    path: str,
) -> None:
    session = modified_session(_add_member(shape, member))
    client = session.client("comprehend")
    table = operations_for(client.meta.service_model)
    unknown = {p for spec in table.specs.values() for p in spec.unknown}
    assert path in unknown


def test_security_member_inside_a_list_fails_closed(
    modified_session: Callable[[Callable[[dict[str, Any]], None]], boto3.Session],
) -> None:
    def change(document: dict[str, Any]) -> None:
        shapes = document["shapes"]
        shapes["Targets"] = {"type": "list", "member": {"shape": "Target"}}
        shapes["Target"] = {
            "type": "structure",
            "members": {"VolumeKmsKeyId": {"shape": "KmsKeyId"}},
        }
        shapes["CreateEndpointRequest"]["members"]["Targets"] = {"shape": "Targets"}

    table = operations_for(modified_session(change).client("comprehend").meta.service_model)
    assert table.specs["CreateEndpoint"].unknown == ("Targets[].VolumeKmsKeyId",)
