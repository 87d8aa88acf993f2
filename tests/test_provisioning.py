"""The account the posture needs: generated role and key policies, applied in moto, pass doctor.

The provisioning round trip: create the data-access role from the generated trust and
permissions policies and the keys with the generated key-policy statements, then run
preflight(): every role and key check PASSes. Remove one generated statement at a time:
the check that depends on it no longer PASSes.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

import boto3
import parliament
import parliament.statement
import pytest
from iam_simulator import Context, _arn_match, _operator

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
    """doctor's role and key checks, the roles' grants judged by the simulator the suite
    has for IAM's (moto has no iam:SimulatePrincipalPolicy)."""
    from iam_simulator import answer_simulations

    session = boto3.Session(region_name=REGION)
    answer_simulations(session, boto3.client("iam"))
    report = sc.preflight(posture, session=session, region_name=REGION)
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
        (("permissions", "ComprehendJobNetworkInterfacesInThePostureSubnets"), "roles"),
        # ComprehendUsesThePostureKeys is not among them: the generated key-policy statement
        # names the role, which grants the key by itself (IAM's same-account rule)
        (("key policy", "first key"), "key policy"),
    ],
)
def test_each_generated_statement_is_needed(drop: tuple[str, str], area: str) -> None:
    posture, keys = make_world()
    if drop[1] == "first key":
        drop = (drop[0], keys[0])
    apply(posture, keys, drop)
    failing = [c for c in role_and_key_checks(posture) if c.area == area and c.status == "FAIL"]
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


# A posture with every section the generated documents depend on, from literal IDs: no moto.
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
EU_SUBNET = "subnet-0fedcba9876543210"
OTHER_SUBNET = "subnet-0fffffffffffffff0"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EU_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/5234abcd-12ab-34cd-56ef-1234567890ab"
# what Comprehend does to an interface it created: refused outside the posture's subnets
# (DeleteNetworkInterfacePermission is not: the IAM reference makes its interface optional)
ENI_USE = ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface")


def test_revoking_an_interface_permission_is_granted_unscoped() -> None:
    """Its network-interface resource is optional in the IAM reference: a grant scoped to
    interfaces could deny Comprehend's clean-up, which is only ever a loss of access."""
    [row] = [p for _, p in privileges("ec2:DeleteNetworkInterfacePermission")]
    assert [r["resource_type"] for r in row["resource_types"] if r["resource_type"]] == [
        "network-interface"  # no "*": not required
    ]
    statements = sc.iam_policy(full_posture(), kind="data-access-role")[ROLE]["PermissionsPolicy"][
        "Statement"
    ]
    granting = [s for s in statements if "ec2:DeleteNetworkInterfacePermission" in s["Action"]]
    assert [(s["Resource"], s.get("Condition")) for s in granting] == [("*", None)]


def full_posture() -> sc.Posture:
    return sc.Posture(
        vpc={"subnets": SUBNETS, "security_group_ids": ["sg-0123456789abcdef0"]},
        kms={"volume_key": KEY, "output_key": KEY},
        iam={"data_access_roles": [ROLE]},
        s3={"allowed_buckets": ["corp-ml-input", "corp-ml-*"]},
        regions={
            "eu-west-1": {
                "vpc": {"subnets": [EU_SUBNET], "security_group_ids": ["sg-0fedcba9876543210"]},
                "kms": {"volume_key": EU_KEY},
            }
        },
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def subnet_arn(subnet: str, region: str = "*", account: str = "*") -> str:
    return f"arn:aws:ec2:{region}:{account}:subnet/{subnet}"


def test_network_interfaces_are_deleted_and_shared_only_in_the_posture_subnets() -> None:
    statements = sc.iam_policy(full_posture(), kind="data-access-role")[ROLE]["PermissionsPolicy"][
        "Statement"
    ]
    granting = {
        action: [
            s
            for s in statements
            if s["Effect"] == "Allow"
            and any(fnmatchcase(action.lower(), a.lower()) for a in as_list(s["Action"]))
        ]
        for action in ENI_USE
    }
    expected = {subnet_arn(s) for s in [*SUBNETS, EU_SUBNET]}
    for action, found in granting.items():
        assert found, f"{action} is not granted: VPC jobs need it"
        for statement in found:
            condition = statement.get("Condition", {})
            subnets = [
                value
                for operator in ("ArnLike", "ArnEquals")  # no IfExists: the key must be there
                for key, values in condition.get(operator, {}).items()
                if key.lower() == "ec2:subnet"
                for value in as_list(values)
            ]
            assert set(subnets) == expected, (action, statement)


SERVICES = {s["prefix"]: s for s in parliament.iam_definition}


def privileges(pattern: str) -> list[tuple[str, dict[str, Any]]]:
    """The actions an Action entry names, wildcards expanded over the IAM reference."""
    prefix, name = pattern.split(":")
    return [
        (f"{prefix}:{p['privilege']}", p)
        for p in SERVICES.get(prefix, {}).get("privileges", [])
        if fnmatchcase(p["privilege"].lower(), name.lower())
    ]


def key_pattern(listed: str) -> str:
    """A listed key as a pattern: ec2:ResourceTag/${TagKey} -> ec2:resourcetag/*."""
    return re.sub(r"\$\{[^}]*\}|<[^>]*>", "*", listed).lower()


def is_global(key: str) -> bool:
    """A global key (aws:SourceAccount, ...): tag keys are not, the reference lists them."""
    tags = ("aws:requesttag/", "aws:resourcetag/", "aws:tagkeys")
    known = parliament.statement.get_global_key_type(key) is not None
    return known and not key.lower().startswith(tags)


def arn_pattern(template: str) -> re.Pattern[str]:
    """A resource type's ARN template as a pattern: ${...} stands for anything."""
    return re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template)))


def unsupported(statement: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(action, resource, condition key) of a statement that the IAM reference does not list:
    every key must be listed for the action, on the resource type of each resource the
    statement names (or on the action itself), unless it is global."""
    keys = [key for block in statement.get("Condition", {}).values() for key in block]
    resources = as_list(statement.get("Resource", "*"))  # NotResource, no Resource: any
    found = []
    for pattern in as_list(statement["Action"]):
        actions = privileges(pattern)
        if not actions:
            found.append((pattern, "-", "(not an action of the IAM reference)"))
        for action, privilege in actions:
            prefix = action.split(":")[0]
            arns = {r["resource"]: r["arn"] for r in SERVICES[prefix]["resources"]}
            rows = privilege["resource_types"]
            for resource in resources:
                applies = [
                    r
                    for r in rows
                    if resource == "*"
                    or (
                        r["resource_type"]
                        and arn_pattern(arns[r["resource_type"].rstrip("*")]).fullmatch(resource)
                    )
                ]
                if not applies:
                    found.append((action, resource, "(no resource type of this action)"))
                    continue
                listed = [
                    key_pattern(k)
                    for r in rows
                    if r in applies or not r["resource_type"]
                    for k in r["condition_keys"]
                ]
                found += [
                    (action, resource, key)
                    for key in keys
                    if not is_global(key) and not any(fnmatchcase(key.lower(), k) for k in listed)
                ]
    return found


def test_every_action_resource_and_condition_key_pair_is_in_the_iam_reference() -> None:
    # the check itself: pairs the IAM reference does not list are found
    eni = "arn:aws:ec2:*:*:network-interface/*"
    bad = [
        ("ec2:DeleteNetworkInterface", eni, "ec2:AuthorizedService"),
        ("ec2:CreateNetworkInterface", eni, "ec2:Subnet"),
        ("ec2:CreateNetworkInterface", eni, "ec2:Vpc"),  # on subnets and groups only
    ]
    for action, resource, key in bad:
        probe = {"Action": action, "Resource": resource, "Condition": {"ArnLike": {key: "x"}}}
        assert unsupported(probe) == [(action, resource, key)]
    subnet = "arn:aws:ec2:*:*:subnet/subnet-0123456789abcdef0"
    assert unsupported({"Action": "ec2:DeleteNetworkInterface", "Resource": subnet}) == [
        ("ec2:DeleteNetworkInterface", subnet, "(no resource type of this action)")
    ]
    # every statement of every document generated for a posture with each section
    posture = full_posture()
    documents = [
        *(d for kind in ("identity", "scp") for d in sc.iam_policy(posture, kind=kind)),  # type: ignore[arg-type]
        *(
            d
            for role in sc.iam_policy(posture, kind="data-access-role").values()
            for d in role.values()
        ),
        *({"Statement": s} for s in sc.iam_policy(posture, kind="key-policy").values()),
    ]
    statements = [s for d in documents for s in d["Statement"]]
    assert {k for s in statements for b in s.get("Condition", {}).values() for k in b} >= {
        "aws:SourceAccount",
        "s3:ResourceAccount",
        "comprehend:VpcSubnets",
    }
    assert [(s.get("Sid"), unsupported(s)) for s in statements if unsupported(s)] == []


def allowed(document: dict[str, Any], action: str, resource: str, context: Context) -> bool:
    """An Allow statement of ``document`` applies, by the simulator's ARN rule and condition
    operators (ArnLike and ArnEquals: the ARN rule on the key's value)."""

    def holds(operator: str, key: str, wanted: Any) -> bool:
        if operator in ("ArnLike", "ArnEquals"):
            return key in context and any(_arn_match(w, context[key]) for w in as_list(wanted))
        return _operator(operator, key, wanted, context)

    return any(
        s["Effect"] == "Allow"
        and any(fnmatchcase(action.lower(), a.lower()) for a in as_list(s["Action"]))
        and any(r == "*" or _arn_match(r, resource) for r in as_list(s["Resource"]))
        and all(
            holds(operator, key, wanted)
            for operator, block in s.get("Condition", {}).items()
            for key, wanted in block.items()
        )
        for s in document["Statement"]
    )


def test_an_interface_in_another_subnet_is_neither_deleted_nor_shared() -> None:
    permissions = sc.iam_policy(full_posture(), kind="data-access-role")[ROLE]["PermissionsPolicy"]
    eni = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-0123456789abcdef0"
    for action in ENI_USE:
        for subnet in [*SUBNETS, EU_SUBNET]:
            context = {"ec2:Subnet": subnet_arn(subnet, REGION, ACCOUNT)}
            assert allowed(permissions, action, eni, context), (action, subnet)
        elsewhere = {"ec2:Subnet": subnet_arn(OTHER_SUBNET, REGION, ACCOUNT)}
        assert not allowed(permissions, action, eni, elsewhere), action
        assert not allowed(permissions, action, eni, {}), action
    # and interfaces are created only in the posture's subnets
    create = "ec2:CreateNetworkInterface"
    assert allowed(permissions, create, subnet_arn(SUBNETS[0], REGION, ACCOUNT), {})
    assert not allowed(permissions, create, subnet_arn(OTHER_SUBNET, REGION, ACCOUNT), {})
