"""The decision core, parametrized over every covered operation of the model."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import (
    GROUPS,
    KEY_IDS,
    KEYS,
    OTHER_GROUP,
    OTHER_KEY,
    OTHER_ROLE,
    OTHER_SUBNET,
    OUTPUT_ALIAS,
    PARTNER_KEY,
    REGION,
    ROLES,
    SUBNETS,
    make_posture,
)

import secure_comprehend as sc
from secure_comprehend.decision.operations import default_model
from secure_comprehend.decision.spec import Member, OperationSpec
from secure_comprehend.posture.kinds import CORE_KINDS

SPECS: dict[str, OperationSpec] = {n: s for n, s in default_model()[1].specs.items() if s.core}
CREATES = sorted(n for n, s in SPECS.items() if not s.is_update)
UPDATES = sorted(n for n, s in SPECS.items() if s.is_update)
MEMBERS = [(n, m) for n, s in sorted(SPECS.items()) for m in s.members if m.kind in CORE_KINDS]


def member_id(value: Any) -> str:
    return value.dotted if isinstance(value, Member) else str(value)


def base(spec: OperationSpec) -> dict[str, Any]:
    """Business parameters: an OutputDataConfig when the operation has one."""
    if any(m.path[0] == "OutputDataConfig" for m in spec.members):
        return {"OutputDataConfig": {"S3Uri": "s3://out/"}}
    return {}


def get(params: dict[str, Any], path: tuple[str, ...]) -> Any:
    for name in path:
        params = params[name]
    return params


def put(params: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    params = copy.deepcopy(params)
    node = params
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node[path[-1]] = value
    return params


def expected_default(member: Member) -> Any:
    if member.kind == "vpc":
        return {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}
    if member.kind == "role":
        return ROLES[0]
    return KEYS[member.kind]


def approved_value(member: Member) -> Any:
    if member.kind == "vpc":
        return {"Subnets": [SUBNETS[1]], "SecurityGroupIds": list(GROUPS)}
    if member.kind == "role":
        return ROLES[1]
    return PARTNER_KEY  # also_allowed: accepted for every KMS member


def unapproved_value(member: Member) -> Any:
    if member.kind == "vpc":
        return {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
    if member.kind == "role":
        return OTHER_ROLE
    return OTHER_KEY


def evaluate(op: str, params: dict[str, Any], posture: sc.Posture | None = None) -> sc.Decision:
    return sc.evaluate(op, params, posture or make_posture(), region=REGION)


@pytest.mark.parametrize("op", CREATES)
def test_absent_members_are_injected(op: str) -> None:
    spec = SPECS[op]
    decision = evaluate(op, base(spec))
    assert decision.allowed
    assert set(decision.injected) == {m.dotted for m in spec.members if m.kind in CORE_KINDS}
    for member in (m for m in spec.members if m.kind in CORE_KINDS):
        assert get(decision.params, member.path) == expected_default(member)


@pytest.mark.parametrize("op", UPDATES)
def test_updates_inject_nothing(op: str) -> None:
    decision = evaluate(op, {"FlywheelArn": "x"})
    assert decision.allowed
    assert decision.injected == ()
    assert decision.params == {"FlywheelArn": "x"}


@pytest.mark.parametrize(("op", "member"), MEMBERS, ids=member_id)
def test_approved_value_is_sent_as_given(op: str, member: Member) -> None:
    params = put(base(SPECS[op]), member.path, approved_value(member))
    decision = evaluate(op, params)
    assert decision.allowed
    assert get(decision.params, member.path) == approved_value(member)
    assert member.dotted not in decision.injected


@pytest.mark.parametrize(("op", "member"), MEMBERS, ids=member_id)
def test_unapproved_value_is_a_violation(op: str, member: Member) -> None:
    params = put(base(SPECS[op]), member.path, unapproved_value(member))
    decision = evaluate(op, params)
    assert not decision.allowed
    [violation] = decision.violations
    assert violation.operation == op
    assert violation.path.startswith(member.dotted)
    assert violation.allowed  # says what is approved
    assert "not approved" in violation.reason


@pytest.mark.parametrize(
    ("op", "member"), [(n, m) for n, m in MEMBERS if SPECS[n].is_update], ids=member_id
)
def test_update_checks_present_members_too(op: str, member: Member) -> None:
    decision = evaluate(op, put({}, member.path, unapproved_value(member)))
    assert [v.path.split("[")[0] for v in decision.violations] == [
        member.dotted + (".Subnets" if member.kind == "vpc" else "")
    ]


@pytest.mark.parametrize("kind", ["volume_key", "model_key"])
def test_bare_key_id_of_approved_key_becomes_its_arn(kind: str) -> None:
    path = "VolumeKmsKeyId" if kind == "volume_key" else "ModelKmsKeyId"
    decision = evaluate("CreateEntityRecognizer", {path: KEY_IDS[kind]})
    assert decision.allowed
    assert decision.params[path] == KEYS[kind]
    assert decision.rewritten == (path,)


def test_bare_multi_region_key_id_becomes_its_arn() -> None:
    mrk = PARTNER_KEY.rsplit("/", 1)[1]
    decision = evaluate("CreateEntityRecognizer", {"VolumeKmsKeyId": mrk})
    assert decision.params["VolumeKmsKeyId"] == PARTNER_KEY


def test_bare_key_id_of_a_key_approved_for_another_member_is_refused() -> None:
    posture = make_posture(kms={k: v for k, v in KEYS.items()})  # no also_allowed
    decision = evaluate("CreateEntityRecognizer", {"VolumeKmsKeyId": KEY_IDS["model_key"]}, posture)
    assert [v.path for v in decision.violations] == ["VolumeKmsKeyId"]


def test_output_alias_listed_in_posture_is_accepted_and_alias_name_rewritten() -> None:
    given = {"OutputDataConfig": {"S3Uri": "s3://o/", "KmsKeyId": OUTPUT_ALIAS}}
    assert evaluate("StartEntitiesDetectionJob", given).allowed
    name = {"OutputDataConfig": {"S3Uri": "s3://o/", "KmsKeyId": "alias/comprehend-output"}}
    decision = evaluate("StartEntitiesDetectionJob", name)
    assert decision.params["OutputDataConfig"]["KmsKeyId"] == OUTPUT_ALIAS


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("VolumeKmsKeyId",), OUTPUT_ALIAS, "not an alias"),
        (("OutputDataConfig", "KmsKeyId"), "alias/unlisted", "not approved"),
        (("VolumeKmsKeyId",), "clé", "ASCII"),
        (("VolumeKmsKeyId",), "k" * 2049, "ASCII text of 1 to 2048"),
        (("VolumeKmsKeyId",), 42, "ASCII"),
        (("VolumeKmsKeyId",), "arn:aws:s3:::bucket", "not a KMS key"),
        (("VpcConfig",), "vpc-1", "structure"),
        (("VpcConfig", "Subnets"), [], "1 to 16"),
        (("VpcConfig", "Subnets"), [f"subnet-{i:08x}" for i in range(17)], "1 to 16"),
        (("VpcConfig", "SecurityGroupIds"), [f"sg-{i:08x}" for i in range(6)], "1 to 5"),
        (("VpcConfig", "Subnets"), ["subnet-XYZ"], "malformed ID"),
        (("VpcConfig", "SecurityGroupIds"), ["subnet-0123456789abcdef0"], "malformed ID"),
        (("DataAccessRoleArn",), "arn:aws:iam::111122223333:user/bob", "not an IAM role ARN"),
        (("OutputDataConfig",), "s3://o/", "must be a structure"),
    ],
)
def test_malformed_values_are_violations(path: tuple[str, ...], value: Any, reason: str) -> None:
    params = put({"OutputDataConfig": {"S3Uri": "s3://o/"}}, path, value)
    decision = evaluate("StartEntitiesDetectionJob", params)
    assert not decision.allowed
    assert any(reason in v.reason for v in decision.violations), decision.violations


def test_partial_vpc_config_is_completed_then_checked() -> None:
    decision = evaluate("CreateEntityRecognizer", {"VpcConfig": {"SecurityGroupIds": list(GROUPS)}})
    assert decision.allowed
    assert decision.params["VpcConfig"] == {
        "SecurityGroupIds": list(GROUPS),
        "Subnets": list(SUBNETS),
    }
    assert "VpcConfig.Subnets" in decision.injected
    bad = evaluate("CreateEntityRecognizer", {"VpcConfig": {"Subnets": [SUBNETS[0], OTHER_SUBNET]}})
    assert [v.path for v in bad.violations] == ["VpcConfig.Subnets[1]"]


def test_every_violation_is_reported_at_once() -> None:
    params = {
        "OutputDataConfig": {"S3Uri": "s3://o/", "KmsKeyId": OTHER_KEY},
        "VolumeKmsKeyId": OTHER_KEY,
        "VpcConfig": {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": [OTHER_GROUP]},
        "DataAccessRoleArn": OTHER_ROLE,
    }
    decision = evaluate("StartEntitiesDetectionJob", params)
    assert sorted(v.path for v in decision.violations) == [
        "DataAccessRoleArn",
        "OutputDataConfig.KmsKeyId",
        "VolumeKmsKeyId",
        "VpcConfig.SecurityGroupIds[0]",
        "VpcConfig.Subnets[0]",
    ]


def test_caller_objects_are_never_mutated() -> None:
    output = {"S3Uri": "s3://o/"}
    vpc = {"SecurityGroupIds": list(GROUPS)}
    params = {"OutputDataConfig": output, "VpcConfig": vpc, "VolumeKmsKeyId": KEY_IDS["volume_key"]}
    before = copy.deepcopy(params)
    decision = evaluate("StartEntitiesDetectionJob", params)
    assert params == before and output == {"S3Uri": "s3://o/"} and vpc == before["VpcConfig"]
    assert decision.params["OutputDataConfig"] is not output


def test_posture_is_never_mutated_through_a_decision() -> None:
    posture = make_posture()
    decision = evaluate("CreateEntityRecognizer", {}, posture)
    decision.params["VpcConfig"]["Subnets"].append(OTHER_SUBNET)
    again = evaluate("CreateEntityRecognizer", {}, posture)
    assert again.params["VpcConfig"]["Subnets"] == list(SUBNETS)
    assert posture.vpc is not None and posture.vpc.subnets == SUBNETS


def test_unconfigured_section_is_not_enforced() -> None:
    posture = sc.Posture(iam={"data_access_roles": [ROLES[0]]})
    params = {"VpcConfig": {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": [OTHER_GROUP]}}
    decision = evaluate("CreateEntityRecognizer", {**params, "VolumeKmsKeyId": OTHER_KEY}, posture)
    assert decision.allowed
    assert decision.injected == ("DataAccessRoleArn",)


def test_also_allowed_alone_restricts_without_injecting() -> None:
    posture = sc.Posture(kms={"also_allowed": [PARTNER_KEY]})
    assert evaluate("CreateEntityRecognizer", {}, posture).injected == ()
    assert not evaluate("CreateEntityRecognizer", {"ModelKmsKeyId": OTHER_KEY}, posture).allowed


def test_operation_names_in_either_case_and_unknown_names() -> None:
    assert evaluate("create_entity_recognizer", {}).operation == "CreateEntityRecognizer"
    with pytest.raises(ValueError, match="did you mean CreateEntityRecognizer"):
        evaluate("CreateEntityRecogniser", {})


def test_uncovered_operation_is_untouched() -> None:
    decision = evaluate("DetectSentiment", {"Text": "hi", "LanguageCode": "en"})
    assert decision.allowed and decision.injected == ()
    assert decision.params == {"Text": "hi", "LanguageCode": "en"}


def test_evaluate_refuses_a_posture_not_valid_for_the_region() -> None:
    with pytest.raises(sc.PostureError, match="eu-west-1"):
        sc.evaluate("CreateEntityRecognizer", {}, make_posture(), region="eu-west-1")


def test_final_check_names_values_of_the_wrong_type() -> None:
    from secure_comprehend.decision.final_check import final_check

    spec = SPECS["StartEntitiesDetectionJob"]
    sent = {
        "OutputDataConfig": {"S3Uri": "s3://o/", "KmsKeyId": KEYS["output_key"]},
        "VolumeKmsKeyId": ["not", "a", "key"],
        "VpcConfig": {"Subnets": [{"id": SUBNETS[0]}], "SecurityGroupIds": list(GROUPS)},
        "DataAccessRoleArn": ROLES[0],
    }
    violations = final_check(spec, sent, make_posture().effective(REGION, "aws"))
    assert sorted(v.path for v in violations) == ["VolumeKmsKeyId", "VpcConfig.Subnets[0]"]
