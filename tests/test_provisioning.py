"""The account the posture needs: generated role and key policies, applied in moto, pass doctor.

The provisioning round trip: create the data-access role from the generated trust and
permissions policies and the keys with the generated key-policy statements, then run
preflight(): every role and key check PASSes. Remove one generated statement at a time:
the check that depends on it no longer PASSes.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import parliament
import pytest

import secure_comprehend as sc

pytestmark = pytest.mark.usefixtures("moto")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"  # the key policy names no account root


def make_world() -> tuple[sc.Posture, list[str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "Subnets"
        ]
    ][:2]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
        "SecurityGroups"
    ][0]["GroupId"]
    kms = boto3.client("kms", region_name=REGION)
    keys = [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]
    posture = sc.Posture(
        vpc={"subnets": subnets, "security_group_ids": [group]},
        kms={"volume_key": keys[0], "output_key": keys[1], "model_key": keys[0]},
        iam={"data_access_roles": [ROLE]},
    )
    return posture, keys


def apply(posture: sc.Posture, keys: list[str], drop: tuple[str, str] | None = None) -> None:
    """Create the role and key policies from the generated documents, less ``drop``."""
    role = sc.iam_policy(posture, kind="data-access-role")[ROLE]
    statements = {
        "trust": role["TrustPolicy"]["Statement"],
        "permissions": role["PermissionsPolicy"]["Statement"],
    }
    key_statements = sc.iam_policy(posture, kind="key-policy")
    if drop is not None:
        where, sid = drop
        if where == "key policy":
            key_statements = {k: [] if k == sid else v for k, v in key_statements.items()}
        else:
            statements[where] = [s for s in statements[where] if s["Sid"] != sid]
    iam = boto3.client("iam")
    iam.create_role(
        RoleName="ComprehendDataAccess",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements["trust"]}
        ),
    )
    iam.create_role(
        RoleName="KeyAdmin",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    if statements["permissions"]:
        iam.put_role_policy(
            RoleName="ComprehendDataAccess",
            PolicyName="comprehend",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": statements["permissions"]}
            ),
        )
    kms = boto3.client("kms", region_name=REGION)
    admin = {
        "Sid": "Admin",
        "Effect": "Allow",
        "Principal": {"AWS": ADMIN},
        "Action": "kms:*",
        "Resource": "*",
    }
    for key in keys:
        policy = {"Version": "2012-10-17", "Statement": [admin, *key_statements[key]]}
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))


def role_and_key_checks(posture: sc.Posture) -> list[Any]:
    report = sc.preflight(posture, session=boto3.Session(region_name=REGION), region_name=REGION)
    return [c for c in report.checks if c.area in ("roles", "key policy", "kms")]


def test_the_generated_account_passes_every_role_and_key_check() -> None:
    posture, keys = make_world()
    apply(posture, keys)
    checks = role_and_key_checks(posture)
    assert {c.area for c in checks} == {"roles", "key policy", "kms"}
    assert [(c.area, c.subject, c.reason) for c in checks if c.status != "PASS"] == []


@pytest.mark.parametrize(
    ("drop", "area"),
    [
        (("trust", "ComprehendAssumesThisRole"), "roles"),
        (("permissions", "ComprehendJobNetworkInterfaces"), "roles"),
        (("permissions", "ComprehendUsesThePostureKeys"), "roles"),
        (("key policy", "first key"), "key policy"),
    ],
)
def test_each_generated_statement_is_needed(drop: tuple[str, str], area: str) -> None:
    posture, keys = make_world()
    if drop[1] == "first key":
        drop = (drop[0], keys[0])
    apply(posture, keys, drop)
    failing = [c for c in role_and_key_checks(posture) if c.area == area and c.status != "PASS"]
    assert failing, drop


def test_documents_lint_clean_and_name_only_the_posture() -> None:
    posture, keys = make_world()
    role = sc.iam_policy(posture, kind="data-access-role")[ROLE]
    findings = parliament.analyze_policy_string(json.dumps(role["PermissionsPolicy"])).findings
    assert [(f.issue, f.detail) for f in findings] == []
    [kms_statement] = [
        s
        for s in role["PermissionsPolicy"]["Statement"]
        if s["Sid"] == "ComprehendUsesThePostureKeys"
    ]
    assert kms_statement["Resource"] == sorted(keys)  # no wildcard resource for KMS
    condition = role["TrustPolicy"]["Statement"][0]["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert sorted(sc.iam_policy(posture, kind="key-policy")) == sorted(keys)
    # stable: the same posture gives the same text
    assert json.dumps(role) == json.dumps(sc.iam_policy(posture, kind="data-access-role")[ROLE])


def test_without_vpc_no_network_interface_actions() -> None:
    posture = sc.Posture(iam={"data_access_roles": [ROLE]})
    role = sc.iam_policy(posture, kind="data-access-role")[ROLE]
    assert role["PermissionsPolicy"]["Statement"] == []
    with pytest.raises(sc.PostureError, match="needs \\[kms\\] key ARNs"):
        sc.iam_policy(posture, kind="key-policy")


def test_trust_and_key_policies_lint_clean_as_resource_policies() -> None:
    # parliament lints identity policies: a trust policy has no Resource by definition, and in
    # a key policy "*" is the key itself. Those two findings are the only ones allowed.
    posture, _ = make_world()
    role = sc.iam_policy(posture, kind="data-access-role")[ROLE]
    trust = parliament.analyze_policy_string(json.dumps(role["TrustPolicy"])).findings
    assert [f.issue for f in trust] == ["MALFORMED"]
    assert "neither Resource nor NotResource" in str(trust[0].detail)
    for statements in sc.iam_policy(posture, kind="key-policy").values():
        document = {"Version": "2012-10-17", "Statement": statements}
        findings = parliament.analyze_policy_string(json.dumps(document)).findings
        assert [f.issue for f in findings] == ["RESOURCE_STAR"]


def test_each_role_and_key_get_only_the_regions_that_approve_them() -> None:
    us_role = f"arn:aws:iam::{ACCOUNT}:role/UsRole"
    eu_role = f"arn:aws:iam::{ACCOUNT}:role/EuRole"
    us_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    eu_key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/5234abcd-12ab-34cd-56ef-1234567890ab"
    posture = sc.Posture(
        kms={"volume_key": us_key},
        iam={"data_access_roles": [us_role]},
        regions={
            "eu-west-1": {"kms": {"volume_key": eu_key}, "iam": {"data_access_roles": [eu_role]}}
        },
    )
    roles = sc.iam_policy(posture, kind="data-access-role")

    def keys_of(role: str) -> list[str]:
        [kms] = [
            s
            for s in roles[role]["PermissionsPolicy"]["Statement"]
            if s["Sid"] == "ComprehendUsesThePostureKeys"
        ]
        return list(kms["Resource"])

    assert keys_of(us_role) == [us_key] and keys_of(eu_role) == [eu_key]
    keys = sc.iam_policy(posture, kind="key-policy")
    assert keys[us_key][0]["Principal"] == {"AWS": [us_role]}
    assert keys[eu_key][0]["Principal"] == {"AWS": [eu_role]}
