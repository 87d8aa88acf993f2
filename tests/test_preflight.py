"""preflight(): read-only checks against moto's EC2, KMS, IAM and STS.

botocore's Stubber is used only where moto cannot express the case: an AWS
managed key (moto makes every key customer managed) and AccessDenied on a call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import secure_comprehend as sc
from secure_comprehend.cli import main

pytestmark = pytest.mark.usefixtures("moto")
REGION = "us-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "comprehend.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
EC2_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
]


@dataclass
class World:
    vpc: str
    subnets: list[str]  # default VPC, one per zone
    group: str
    main_table: str
    key: str
    role: str


def grant(keys: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": EC2_ACTIONS, "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "kms:CreateGrant",
                    "kms:RetireGrant",
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                ],
                "Resource": keys,
            },
        ],
    }


def make_role(
    name: str, trust: dict[str, Any] = TRUST, policy: dict[str, Any] | None = None, **kw: Any
) -> str:
    iam = boto3.client("iam")
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kw)["Role"][
            "Arn"
        ]
    )
    if policy is not None:
        iam.put_role_policy(
            RoleName=name, PolicyName="comprehend", PolicyDocument=json.dumps(policy)
        )
    return arn


@pytest.fixture
def world() -> World:
    return make_world()


def make_world() -> World:
    """The default VPC with an S3 gateway endpoint, a key, and a role granted both."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0][
        "VpcId"
    ]
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"
    ][0]["GroupId"]
    table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][
        0
    ]["RouteTableId"]
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=[table],
        VpcEndpointType="Gateway",
    )
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    role = make_role("ComprehendDataAccess", policy=grant([key]))
    return World(vpc, subnets[:3], group, table, key, role)


def posture(world: World, **overrides: Any) -> sc.Posture:
    settings: dict[str, Any] = {
        "vpc": {"subnets": world.subnets[:2], "security_group_ids": [world.group]},
        "kms": {"volume_key": world.key, "output_key": world.key},
        "iam": {"data_access_roles": [world.role]},
    }
    settings.update(overrides)
    return sc.Posture(**settings)


def run(p: sc.Posture, session: boto3.Session | None = None) -> sc.PreflightReport:
    return sc.preflight(p, session=session or boto3.Session(region_name=REGION), region_name=REGION)


def statuses(report: sc.PreflightReport, area: str) -> list[tuple[str, str]]:
    return [(c.status, c.subject) for c in report.checks if c.area == area]


def only(report: sc.PreflightReport, area: str, subject: str) -> Any:
    [check] = [c for c in report.checks if c.area == area and c.subject == subject]
    return check


def test_a_correct_posture_passes(world: World) -> None:
    report = run(posture(world))
    assert report.ok, [c for c in report.checks if c.status != "PASS"]
    assert report.account == "123456789012"
    assert {c.area for c in report.checks if c.status == "PASS"} == {
        "identity",
        "subnets",
        "security groups",
        "s3 path",
        "s3 endpoint",
        "network acl",
        "kms",
        "key policy",
        "roles",
    }
    # volume and output share one key: its policy is checked once, and delegates to the account
    assert statuses(report, "key policy") == [("PASS", world.key)]


def test_missing_subnet_and_single_zone(world: World) -> None:
    ghost = "subnet-0123456789abcdef0"
    report = run(
        posture(
            world, vpc={"subnets": [world.subnets[0], ghost], "security_group_ids": [world.group]}
        )
    )
    assert only(report, "subnets", ghost).status == "FAIL"
    assert any(c.status == "WARN" and "one Availability Zone" in c.reason for c in report.checks)
    assert not report.ok


def test_subnets_in_two_vpcs_and_dedicated_tenancy(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    dedicated = ec2.create_vpc(CidrBlock="10.20.0.0/16", InstanceTenancy="dedicated")["Vpc"][
        "VpcId"
    ]
    other = ec2.create_subnet(
        VpcId=dedicated, CidrBlock="10.20.1.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    report = run(
        posture(
            world, vpc={"subnets": [world.subnets[0], other], "security_group_ids": [world.group]}
        )
    )
    reasons = [c.reason for c in report.checks if c.area == "subnets" and c.status == "FAIL"]
    assert any("several VPCs" in r for r in reasons)
    assert any("dedicated instance tenancy" in r for r in reasons)


def test_security_group_in_another_vpc_and_without_egress(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    other_vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)[
        "GroupId"
    ]
    closed = ec2.create_security_group(GroupName="closed", Description="x", VpcId=world.vpc)[
        "GroupId"
    ]
    ec2.revoke_security_group_egress(
        GroupId=closed, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    report = run(
        posture(world, vpc={"subnets": world.subnets[:2], "security_group_ids": [elsewhere]})
    )
    assert "not the subnets' VPC" in only(report, "security groups", elsewhere).reason
    report = run(posture(world, vpc={"subnets": world.subnets[:2], "security_group_ids": [closed]}))
    assert only(report, "security groups", closed).status == "PASS"  # it exists, in the VPC
    assert (
        "no egress rule allows HTTPS"
        in only(report, "security groups", f"egress of {closed}").reason
    )


def test_egress_to_the_s3_prefix_list_counts(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    name = f"com.amazonaws.{REGION}.s3"
    prefix = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [name]}]
    )["PrefixLists"][0]
    group = ec2.create_security_group(GroupName="s3only", Description="x", VpcId=world.vpc)[
        "GroupId"
    ]
    ec2.revoke_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": prefix["PrefixListId"]}],
            }
        ],
    )
    report = run(posture(world, vpc={"subnets": world.subnets[:2], "security_group_ids": [group]}))
    assert only(report, "security groups", group).status == "PASS"
    assert any(
        c.status == "PASS"
        and f"HTTPS egress to the S3 prefix list {prefix['PrefixListId']} allowed by" in c.reason
        for c in report.checks
    )


def test_s3_path_nat_counts_internet_gateway_does_not(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="x", VpcId=vpc)["GroupId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=f"{REGION}a")[
        "Subnet"
    ]["SubnetId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24", AvailabilityZone=f"{REGION}b")[
        "Subnet"
    ]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_table, SubnetId=public)
    private_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=private_table, SubnetId=private)
    p = posture(world, vpc={"subnets": [private, public], "security_group_ids": [group]})

    report = run(p)
    for subnet, table in ((private, private_table), (public, public_table)):
        check = only(report, "s3 path", subnet)
        assert check.status == "FAIL"
        assert table in check.reason and "Gateway VPC endpoint" in check.reason

    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"][
        "NatGatewayId"
    ]
    ec2.create_route(RouteTableId=private_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    report = run(p)
    assert only(report, "s3 path", private).status == "PASS"
    assert only(report, "s3 path", public).status == "FAIL"  # an internet gateway alone


def test_kms_key_states_specs_and_aliases(world: World) -> None:
    kms = boto3.client("kms", region_name=REGION)
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])  # moto needs the key ID here, not the ARN
    doomed = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName="alias/comprehend-output", TargetKeyId=world.key.rsplit("/", 1)[1])
    ghost = f"arn:aws:kms:{REGION}:123456789012:key/0000abcd-12ab-34cd-56ef-1234567890ab"
    p = posture(
        world,
        kms={
            "volume_key": disabled["Arn"],
            "output_key": doomed["Arn"],
            "model_key": signing["Arn"],
            "data_lake_key": ghost,
            "also_allowed": ["alias/comprehend-output"],
        },
    )
    report = run(p)
    assert "is Disabled" in only(report, "kms", disabled["Arn"]).reason
    assert "pending deletion (deleted on 20" in only(report, "kms", doomed["Arn"]).reason
    signing_reason = only(report, "kms", signing["Arn"]).reason
    assert "RSA_2048, not SYMMETRIC_DEFAULT" in signing_reason and "SIGN_VERIFY" in signing_reason
    assert only(report, "kms", ghost).status == "FAIL"
    alias = only(report, "kms", "alias/comprehend-output")
    assert alias.status == "PASS" and world.key in alias.reason


def _with_stubbed(session: boto3.Session, monkeypatch: pytest.MonkeyPatch, service: str) -> Stubber:
    stubbed = session.client(service, region_name=REGION)
    real = session.client
    monkeypatch.setattr(
        session, "client", lambda name, **kw: stubbed if name == service else real(name, **kw)
    )
    return Stubber(stubbed)


def test_aws_managed_key_fails_via_stubber(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto makes every key customer managed: an AWS managed key needs the Stubber.
    session = boto3.Session(region_name=REGION)
    stub = _with_stubbed(session, monkeypatch, "kms")
    meta = {
        "KeyId": world.key.rsplit("/", 1)[1],
        "Arn": world.key,
        "KeyState": "Enabled",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyManager": "AWS",
    }
    stub.add_response("describe_key", {"KeyMetadata": meta}, {"KeyId": world.key})
    with stub:
        report = run(posture(world, kms={"volume_key": world.key}), session)
    assert "managed by AWS" in only(report, "kms", world.key).reason


def test_access_denied_is_skipped_with_the_permission(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's IAM would allow the call: AccessDenied needs the Stubber.
    session = boto3.Session(region_name=REGION)
    stub = _with_stubbed(session, monkeypatch, "ec2")
    stub.add_client_error(
        "describe_subnets", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    stub.add_client_error(
        "describe_security_groups", service_error_code="UnauthorizedOperation", http_status_code=403
    )
    stub.add_client_error(
        "describe_managed_prefix_lists",
        service_error_code="UnauthorizedOperation",
        http_status_code=403,
    )
    with stub:
        report = run(posture(world), session)
    skipped = {c.area: c.reason for c in report.checks if c.status == "SKIPPED"}
    assert "needs ec2:DescribeSubnets" in skipped["subnets"]
    assert "needs ec2:DescribeSecurityGroups" in skipped["security groups"]
    assert "needs ec2:DescribeManagedPrefixLists" in skipped["s3 path"]
    assert report.ok  # SKIPPED is not FAIL


def test_cross_account_key_warns_and_its_policy_is_checked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner = "arn:aws:kms:us-east-1:444455556666:key/mrk-0123456789abcdef0123456789abcdef"
    session = boto3.Session(region_name=REGION)
    stub = _with_stubbed(session, monkeypatch, "kms")
    meta = {
        "KeyId": "mrk-0123456789abcdef0123456789abcdef",
        "Arn": partner,
        "KeyState": "Enabled",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyManager": "CUSTOMER",
    }
    stub.add_response("describe_key", {"KeyMetadata": meta}, {"KeyId": partner})
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    stub.add_response(
        "get_key_policy",
        {"Policy": json.dumps(policy)},
        {"KeyId": partner, "PolicyName": "default"},
    )
    with stub:
        report = run(posture(world, kms={"volume_key": partner}), session)
    # a key of another account is a KMS finding, not an identity one
    assert [c.reason for c in report.checks if c.area == "identity" and c.status == "WARN"] == []
    assert any(
        c.status == "WARN" and "is in account 444455556666" in c.reason
        for c in report.checks
        if c.area == "kms" and c.subject == partner
    )
    check = only(report, "key policy", partner)
    assert check.status == "FAIL" and "names neither" in check.reason


@pytest.mark.parametrize(
    ("setup", "status", "words"),
    [
        ("missing", "FAIL", "does not exist"),
        ("no-trust", "FAIL", "does not let comprehend.amazonaws.com"),
        ("conditional-trust", "WARN", "conditions"),
        ("own-account-trust", "PASS", "confused-deputy guard"),
        ("no-kms", "FAIL", "kms:CreateGrant"),
        ("boundary", "WARN", "permissions boundary"),
        ("managed-policy", "PASS", "grant"),
    ],
)
def test_roles(world: World, setup: str, status: str, words: str) -> None:
    iam = boto3.client("iam")
    if setup == "missing":
        arn = "arn:aws:iam::123456789012:role/Nobody"
    elif setup == "no-trust":
        other = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        arn = make_role("NoTrust", trust=other, policy=grant([world.key]))
    elif setup == "conditional-trust":
        trust = json.loads(json.dumps(TRUST))
        trust["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
        arn = make_role("Conditional", trust=trust, policy=grant([world.key]))
    elif setup == "own-account-trust":
        trust = json.loads(json.dumps(TRUST))
        trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        arn = make_role("Guarded", trust=trust, policy=grant([world.key]))
    elif setup == "no-kms":
        ec2_only = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
        }
        arn = make_role("NoKms", policy=ec2_only)
    elif setup == "boundary":
        boundary = iam.create_policy(PolicyName="b", PolicyDocument=json.dumps(grant(["*"])))[
            "Policy"
        ]["Arn"]
        arn = make_role("Bounded", policy=grant([world.key]), PermissionsBoundary=boundary)
    else:
        managed = iam.create_policy(PolicyName="m", PolicyDocument=json.dumps(grant([world.key])))[
            "Policy"
        ]["Arn"]
        arn = make_role("Managed")
        iam.attach_role_policy(RoleName="Managed", PolicyArn=managed)
    report = run(posture(world, iam={"data_access_roles": [arn]}))
    found = [
        c for c in report.checks if c.area == "roles" and c.subject == arn and c.status == status
    ]
    assert any(words in c.reason for c in found), [c for c in report.checks if c.area == "roles"]


def test_doctor_json_and_exit_codes(
    world: World, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "posture.toml"
    good = posture(world)
    config.write_text(
        f"[vpc]\nsubnets = {json.dumps(list(good.vpc.subnets))}\n"  # type: ignore[union-attr]
        f'security_group_ids = ["{world.group}"]\n[kms]\nvolume_key = "{world.key}"\n'
        f'[iam]\ndata_access_roles = ["{world.role}"]\n'
    )
    assert main(["doctor", "--config", str(config), "--region", REGION, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["account"] == "123456789012"
    assert {c["status"] for c in report["checks"]} <= {"PASS", "SKIPPED", "WARN"}
    # moto has no iam:SimulatePrincipalPolicy: the role's policies are read by hand, and said so
    assert [c["reason"][:48] for c in report["checks"] if c["status"] == "WARN"] == [
        "IAM's policy simulator could not be used (NotImp"
    ]
    config.write_text(config.read_text().replace(world.subnets[0], "subnet-0123456789abcdef0"))
    assert main(["doctor", "--config", str(config), "--region", REGION]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "subnet-0123456789abcdef0" in out


def test_role_in_another_account_is_skipped_not_failed(world: World) -> None:
    elsewhere = "arn:aws:iam::444455556666:role/ComprehendDataAccess"
    report = run(posture(world, iam={"data_access_roles": [elsewhere]}))
    check = only(report, "roles", elsewhere)
    assert check.status == "SKIPPED" and "account 444455556666" in check.reason
    assert any(
        c.status == "WARN" and c.subject == elsewhere for c in report.checks if c.area == "identity"
    )


# Doctor, finding for finding.


def test_an_alias_s_key_policy_is_read_through_its_key(world: World) -> None:
    kms = boto3.client("kms", region_name=REGION)
    kms.create_alias(AliasName="alias/comprehend-output", TargetKeyId=world.key)
    alias = f"arn:aws:kms:{REGION}:123456789012:alias/comprehend-output"
    report = run(posture(world, kms={"volume_key": world.key, "also_allowed": [alias]}))
    check = only(report, "key policy", alias)
    assert check.status == "PASS", check


def test_skipped_names_the_permission_and_no_key_key(world: World) -> None:
    ghost = f"arn:aws:kms:{REGION}:123456789012:alias/nowhere"
    report = run(posture(world, kms={"model_key": world.key, "also_allowed": [ghost]}))
    reasons = [c.reason for c in report.checks]
    assert not any("key key" in r for r in reasons), reasons
    skipped = [c for c in report.checks if c.status == "SKIPPED"]
    # a SKIPPED says what it needed, or that what it needed does not exist
    assert skipped and all("needs " in c.reason or "does not exist" in c.reason for c in skipped)
    assert any(c.reason.startswith("model key enabled") for c in report.checks)


def test_one_finding_per_missing_capability_each_with_its_fix(world: World) -> None:
    second = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    bare = make_role(
        "Bare",
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        },
    )
    report = run(
        posture(
            world,
            kms={"volume_key": world.key, "output_key": second},
            iam={"data_access_roles": [bare]},
        )
    )
    failing = [c.reason for c in report.checks if c.area == "roles" and c.status == "FAIL"]
    assert len(failing) == 3, failing  # network interfaces, and each key
    assert sum("for network interfaces" in r for r in failing) == 1
    assert {k for k in (world.key, second) if any(f"for key {k}" in r for r in failing)} == {
        world.key,
        second,
    }
    assert all("Fix:" in r for r in failing)


def test_checks_that_depend_on_a_missing_role_are_skipped(world: World) -> None:
    nobody = "arn:aws:iam::123456789012:role/Nobody"
    report = run(posture(world, iam={"data_access_roles": [nobody]}))
    assert only(report, "roles", nobody).status == "FAIL"
    assert statuses(report, "key policy") == [("SKIPPED", world.key)]


def test_egress_counts_only_groups_in_the_subnets_vpc(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    rules = ec2.describe_security_groups(GroupIds=[world.group])["SecurityGroups"][0]
    ec2.revoke_security_group_egress(
        GroupId=world.group, IpPermissions=rules["IpPermissionsEgress"]
    )
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="open", Description="x", VpcId=other_vpc)[
        "GroupId"
    ]
    report = run(
        posture(
            world,
            vpc={"subnets": world.subnets[:2], "security_group_ids": [world.group, elsewhere]},
        )
    )
    egress = [
        c for c in report.checks if c.area == "security groups" and c.subject.startswith("egress")
    ]
    assert [c.status for c in egress] == ["FAIL"]


def test_vpc_dns_attributes(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.modify_vpc_attribute(VpcId=world.vpc, EnableDnsSupport={"Value": False})
    report = run(posture(world))
    dns = [c for c in report.checks if c.subject == world.vpc and "enableDnsSupport" in c.reason]
    assert [c.status for c in dns] == ["FAIL"]
    assert "modify-vpc-attribute" in dns[0].reason


def test_a_subnet_with_few_free_addresses(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    small = ec2.create_subnet(VpcId=world.vpc, CidrBlock="172.31.250.0/28")["Subnet"]
    for _ in range(small["AvailableIpAddressCount"] - 3):
        ec2.create_network_interface(SubnetId=small["SubnetId"])
    report = run(
        posture(
            world,
            vpc={
                "subnets": [world.subnets[0], small["SubnetId"]],
                "security_group_ids": [world.group],
            },
        )
    )
    [few] = [c for c in report.checks if c.subject == small["SubnetId"] and "free IP" in c.reason]
    assert few.status == "WARN" and few.reason.startswith("3 free IP")


def test_an_s3_endpoint_whose_policy_denies_everything(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    [endpoint] = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}
    ec2.modify_vpc_endpoint(
        VpcEndpointId=endpoint["VpcEndpointId"], PolicyDocument=json.dumps(deny)
    )
    report = run(posture(world))
    assert statuses(report, "s3 endpoint") == [("FAIL", endpoint["VpcEndpointId"])]  # once


def test_a_network_acl_that_blocks_https(world: World) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    closed = ec2.create_network_acl(VpcId=world.vpc)["NetworkAcl"]["NetworkAclId"]  # denies all
    association = next(
        a["NetworkAclAssociationId"]
        for acl in ec2.describe_network_acls()["NetworkAcls"]
        for a in acl["Associations"]
        if a["SubnetId"] == world.subnets[0]
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=closed)
    report = run(posture(world))
    blocked = [
        c for c in report.checks if c.area == "network acl" and c.subject == world.subnets[0]
    ]
    assert [c.status for c in blocked] == ["FAIL", "FAIL"]
    open_ = [c for c in report.checks if c.area == "network acl" and c.subject == world.subnets[1]]
    assert [c.status for c in open_] == ["PASS", "PASS"]


def test_egress_is_not_judged_when_no_group_exists(world: World) -> None:
    ghost = "sg-0123456789abcdef0"
    report = run(posture(world, vpc={"subnets": world.subnets[:2], "security_group_ids": [ghost]}))
    assert only(report, "security groups", ghost).status == "FAIL"
    assert only(report, "security groups", f"egress of {ghost}").status == "SKIPPED"
