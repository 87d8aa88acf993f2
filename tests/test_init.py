"""secure-comprehend init: a posture proposed from a read-only look at a moto account."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import secure_comprehend as sc
from secure_comprehend.account.discover import _key_policy
from secure_comprehend.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli is the same parser
    import tomli as tomllib

pytestmark = pytest.mark.usefixtures("moto")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
USES = ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey", "kms:RetireGrant"]


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def key_policy(*statements: dict[str, Any]) -> str:
    admin = {
        "Sid": "KeyAdministrators",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


@dataclass
class Account:
    vpc: str  # two private subnets through a gateway endpoint, one through NAT
    private: list[str]  # in zone order: gateway a, gateway b, NAT c
    isolated: str  # private, no path to S3
    public: str
    jobs_group: str  # HTTPS to the S3 prefix list, named for Comprehend
    web_group: str  # everything out
    locked_group: str  # nothing out
    other_vpc: str  # one private subnet through an S3 interface endpoint, one public
    other_private: str
    other_default_group: str
    role: str
    untrusted_role: str
    volume_key: str  # its policy names the role; alias/comprehend-volume
    output_key: str  # kms:ViaService comprehend; alias/comprehend-output
    general_key: str  # the default policy: delegates to the account
    admin_key: str  # names only an administrator


def build_account() -> Account:
    """Two VPCs (and moto's default one), private and public subnets, an S3 gateway
    endpoint, keys with and without Comprehend in their policies, two roles."""
    ec2 = boto3.client("ec2", region_name=REGION)

    def subnet(vpc: str, cidr: str, zone: str, name: str) -> str:
        sid = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")
        ec2.create_tags(
            Resources=[sid["Subnet"]["SubnetId"]], Tags=[{"Key": "Name", "Value": name}]
        )
        return str(sid["Subnet"]["SubnetId"])

    def table(vpc: str, *subnets: str) -> str:
        tid = str(ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])
        for s in subnets:
            ec2.associate_route_table(RouteTableId=tid, SubnetId=s)
        return tid

    def internet(vpc: str, public: str) -> None:
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.create_route(
            RouteTableId=table(vpc, public), DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
        )

    vpc = str(ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"])
    gateway_a = subnet(vpc, "10.1.1.0/24", "a", "private-a")
    gateway_b = subnet(vpc, "10.1.2.0/24", "b", "private-b")
    nat_c = subnet(vpc, "10.1.3.0/24", "c", "private-nat")
    isolated = subnet(vpc, "10.1.4.0/24", "a", "isolated")
    public = subnet(vpc, "10.1.9.0/24", "a", "public-a")
    internet(vpc, public)
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=[table(vpc, gateway_a, gateway_b)],
        VpcEndpointType="Gateway",
    )
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]
    ec2.create_route(
        RouteTableId=table(vpc, nat_c),
        DestinationCidrBlock="0.0.0.0/0",
        NatGatewayId=nat["NatGatewayId"],
    )
    table(vpc, isolated)  # its own table: the local route only
    prefix_list = ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}]
    )["PrefixLists"][0]["PrefixListId"]
    everything_out = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]

    def group(vpc: str, name: str, description: str, egress: list[Any] | None) -> str:
        gid = str(
            ec2.create_security_group(VpcId=vpc, GroupName=name, Description=description)["GroupId"]
        )
        if egress is not None:
            ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=everything_out)
            if egress:
                ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=egress)
        return gid

    https_to_s3 = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    jobs = group(
        vpc,
        "comprehend-jobs",
        "Comprehend jobs",
        [{**https_to_s3, "PrefixListIds": [{"PrefixListId": prefix_list}]}],
    )
    web = group(vpc, "web", "web servers", None)
    locked = group(vpc, "locked", "nothing leaves", [])

    other = str(ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"])
    other_private = subnet(other, "10.2.1.0/24", "a", "other-private")
    internet(other, subnet(other, "10.2.9.0/24", "b", "other-public"))
    ec2.create_vpc_endpoint(
        VpcId=other,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        SubnetIds=[other_private],
        VpcEndpointType="Interface",
        PrivateDnsEnabled=True,
    )
    other_default = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [other]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"][0]["GroupId"]

    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="ComprehendDataAccess", AssumeRolePolicyDocument=trust("comprehend.amazonaws.com")
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="ComprehendDataAccess",
        PolicyName="data",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": ["arn:aws:s3:::corpus", "arn:aws:s3:::corpus/*"],
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::results/*",
                    },
                    {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secrets/*"},
                ],
            }
        ),
    )
    untrusted = iam.create_role(
        RoleName="WebServer", AssumeRolePolicyDocument=trust("ec2.amazonaws.com")
    )["Role"]["Arn"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="corpus")

    kms = boto3.client("kms", region_name=REGION)

    def key(policy: str | None, alias: str | None) -> str:
        meta = (kms.create_key(Policy=policy) if policy else kms.create_key())["KeyMetadata"]
        if alias:
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        return str(meta["Arn"])

    volume = key(
        key_policy(
            {"Effect": "Allow", "Principal": {"AWS": role}, "Action": USES, "Resource": "*"}
        ),
        "alias/comprehend-volume",
    )
    via = {  # through Comprehend, for this account's callers only (AWS's usual pattern)
        "StringEquals": {
            "kms:ViaService": f"comprehend.{REGION}.amazonaws.com",
            "kms:CallerAccount": ACCOUNT,
        }
    }
    output = key(
        key_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:*",
                "Resource": "*",
                "Condition": via,
            }
        ),
        "alias/comprehend-output",
    )
    general = key(None, "alias/general")
    admin = key(key_policy(), None)
    return Account(
        vpc=vpc,
        private=[gateway_a, gateway_b, nat_c],
        isolated=isolated,
        public=public,
        jobs_group=jobs,
        web_group=web,
        locked_group=locked,
        other_vpc=other,
        other_private=other_private,
        other_default_group=other_default,
        role=role,
        untrusted_role=untrusted,
        volume_key=volume,
        output_key=output,
        general_key=general,
        admin_key=admin,
    )


@pytest.fixture
def account() -> Account:
    return build_account()


def init(*args: str) -> int:
    return main(["init", "--region", REGION, *args])


def read(path: Path) -> dict[str, Any]:
    return dict(tomllib.loads(path.read_text()))


def line_of(text: str, value: str) -> str:
    return next(line for line in text.splitlines() if f'"{value}"' in line)


def test_init_proposes_the_account_and_validates_once_its_todos_are_resolved(
    account: Account, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "posture.toml"
    assert init("--out", str(path)) == 1  # written, with TODOs to resolve
    err = capsys.readouterr().err
    assert f"wrote {path}: " in err and "2 TODO(s) to resolve" in err
    text = path.read_text()
    proposed = read(path)
    assert proposed["mode"] == "observe"
    # the VPC with the most private subnets that reach S3; its others named, and why not
    assert proposed["vpc"]["subnets"] == account.private
    assert f"VPC {account.vpc} (10.1.0.0/16): 3 private subnet(s) that reach S3" in text
    assert f"other VPC {account.other_vpc} (10.2.0.0/16): 1 private subnet(s)" in text
    assert "gateway endpoint vpce-" in line_of(text, account.private[0])
    assert "NAT gateway nat-" in line_of(text, account.private[2])
    assert re.search(
        rf"not proposed: {account.public} .*: public, rtb-\w+ routes 0.0.0.0/0 to igw-", text
    )
    assert re.search(
        rf"not proposed: {account.isolated} .*: private, but rtb-\w+ has no route", text
    )
    assert proposed["vpc"]["security_group_ids"] == [account.jobs_group]
    assert "mentions Comprehend" in line_of(text, account.jobs_group)
    assert f"not proposed: {account.locked_group} ('locked'): no egress rule allows HTTPS" in text
    assert f"not proposed: {account.web_group} ('web'): allows HTTPS" in text
    # keys: those whose policies name Comprehend, each member by its alias; the rest TODO
    kms = proposed["kms"]
    assert (kms["volume_key"], kms["output_key"]) == (account.volume_key, account.output_key)
    assert kms["model_key"] == "TODO: choose the key for models among the candidates above"
    assert kms["data_lake_key"].startswith("TODO: choose the key for flywheel data lakes")
    assert f"not proposed: {account.admin_key}: its key policy names no role" in text
    assert f"not proposed: {account.general_key} (alias/general): its key policy delegates" in text
    assert (
        f"candidate: {account.output_key} (alias/comprehend-output): its key policy allows "
        "it through Comprehend (kms:ViaService)" in text
    )
    assert f"names {account.role}, a role Comprehend may assume" in text
    # roles Comprehend may assume, and the buckets they reach
    assert proposed["iam"]["data_access_roles"] == [account.role]
    assert account.untrusted_role not in text
    # bucket names are global: a bucket the account does not own is never proposed
    assert proposed["s3"]["allowed_buckets"] == ["corpus"]
    assert "a bucket of this account" in line_of(text, "corpus")
    assert "# not proposed: 'results'" in text and "anyone may own a bucket" in text
    # every proposed value says why, on its line (a list item) or the line above
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith(("#", "[", " ]")) or not line.strip() or line.rstrip() in ("]",):
            continue
        if line.endswith("["):
            continue
        if "TODO: " in line:
            continue
        assert "  # " in line or lines[number - 1].startswith("# why: "), line

    # fails closed while a TODO is left, and says which
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture(path)
    message = str(refused.value)
    assert "kms.model_key = 'TODO: choose the key for models" in message
    assert "kms.data_lake_key = 'TODO: choose the key for flywheel data lakes" in message
    assert "2 error(s)" in message

    resolved = re.sub(r'"TODO: [^"]*"', f'"{account.volume_key}"', text)
    path.write_text(resolved)
    posture = sc.load_posture(path)
    assert posture.vpc is not None and list(posture.vpc.subnets) == account.private
    assert posture.kms is not None and posture.kms.model_key == account.volume_key
    assert posture.iam is not None and list(posture.iam.data_access_roles) == [account.role]
    assert posture.s3 is not None and posture.mode == "observe"


def test_init_refuses_to_overwrite_a_file_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_discovery(*_: Any, **__: Any) -> Any:
        raise AssertionError("discovered although the file exists")

    monkeypatch.setattr("secure_comprehend.cli.init.discover", no_discovery)
    path = tmp_path / "mine.toml"
    path.write_text('mode = "enforce"\n')
    assert init("--out", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"secure-comprehend: error: --out {path}: the file exists")
    assert "never overwrites" in err
    assert path.read_text() == 'mode = "enforce"\n'
    # the default is ./secure_comprehend.toml, the file the posture lookup reads
    Path("secure_comprehend.toml").write_text("")
    assert init() == 2
    assert "--out secure_comprehend.toml: the file exists" in capsys.readouterr().err
    assert init("--out", str(tmp_path)) == 2
    assert "is a directory" in capsys.readouterr().err
    assert init("--out", str(tmp_path / "missing" / "p.toml")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_init_writes_the_default_file_and_one_candidate_needs_no_edit(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = boto3.client("kms", region_name=REGION)
    kms.schedule_key_deletion(KeyId=account.output_key.rsplit("/", 1)[1], PendingWindowInDays=7)
    assert init() == 0
    assert "0 TODO(s)" in capsys.readouterr().err
    path = Path("secure_comprehend.toml")
    text = path.read_text()
    assert (
        f"not proposed: {account.output_key} (alias/comprehend-output): is pending deletion" in text
    )
    posture = sc.load_posture()  # the lookup finds it in the current directory
    assert posture.kms is not None
    assert {posture.kms.volume_key, posture.kms.output_key, posture.kms.model_key} == {
        account.volume_key
    }
    assert "the only candidate" in text


def test_init_vpc_option(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    assert init("--vpc", account.other_vpc, "--out", "-") == 1
    out = capsys.readouterr().out
    proposed = tomllib.loads(out)
    assert proposed["vpc"]["subnets"] == [account.other_private]
    assert "S3 interface endpoint vpce-" in line_of(out, account.other_private)
    assert f"VPC {account.other_vpc} (10.2.0.0/16): 1 private subnet(s)" in out
    assert "named by --vpc" in out
    # the VPC's default group is the only one that lets HTTPS out: proposed, with a caveat
    assert proposed["vpc"]["security_group_ids"] == [account.other_default_group]
    assert "consider a group of its own" in line_of(out, account.other_default_group)

    assert init("--vpc", "vpc-0123456789abcdef0", "--out", "-") == 2
    assert "--vpc vpc-0123456789abcdef0: no such VPC in us-east-1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        init("--vpc", "default")
    assert usage.value.code == 2
    assert "VPC_ID must be vpc- and 8 or 17 hex digits" in capsys.readouterr().err


def test_init_leaves_open_choices_as_todos(capsys: pytest.CaptureFixture[str]) -> None:
    """Two VPCs tie, two roles Comprehend may assume, no key: TODOs that fail validation."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpcs = []
    for n in (1, 2):
        vpc = ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.1.0/24")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=[table]
        )
        vpcs.append(vpc)
    iam = boto3.client("iam")
    roles = [
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust("comprehend.amazonaws.com"))[
            "Role"
        ]["Arn"]
        for name in ("Training", "Inference")
    ]
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    iam.put_role_policy(
        RoleName="Training",
        PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    assert init("--out", "p.toml") == 1
    proposed = read(Path("p.toml"))
    first, second = sorted(vpcs)
    assert proposed["vpc"]["subnets"] == [
        f"TODO: {first} and {second} have 1 each: run init again with --vpc VPC_ID"
    ]
    assert proposed["vpc"]["security_group_ids"][0].startswith("TODO: choose the VPC")
    assert proposed["iam"]["data_access_roles"] == [
        "TODO: the first role is injected when a request names none: put that one first, "
        "remove the roles not meant for Comprehend jobs, then delete this line",
        *sorted(roles),
    ]
    assert proposed["kms"]["volume_key"].startswith("TODO: no customer managed key of us-east-1")
    assert proposed["s3"]["allowed_buckets"] == [
        "TODO: name the buckets jobs read and write, or remove the [s3] section"
    ]
    assert '# Training may reach every bucket (Resource "*")' in Path("p.toml").read_text()
    with pytest.raises(sc.PostureError, match="TODO: the first role is injected"):
        sc.load_posture("p.toml")
    capsys.readouterr()

    # several groups let HTTPS out and none mentions Comprehend: a TODO naming them
    for name in ("app", "batch"):
        ec2.create_security_group(VpcId=first, GroupName=name, Description=name)
    assert init("--vpc", first, "--out", "-") == 1
    out = capsys.readouterr().out
    groups = tomllib.loads(out)["vpc"]["security_group_ids"]
    assert groups == [
        "TODO: choose 1 to 5 of the candidate security groups above (a job's network "
        "interfaces get all of them)"
    ]
    assert out.count("# candidate: sg-") == 2


def deny(*operations: str) -> Callable[..., boto3.Session]:
    """A boto3.Session stand-in whose clients are refused ``operations`` (service.Operation)."""
    real = boto3.Session

    def refuse(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
        return AWSResponse("https://aws", 403, {}, None), error

    def session(**kwargs: Any) -> boto3.Session:
        made = real(**kwargs)
        for operation in operations:
            made.events.register(f"before-call.{operation}", refuse)
        return made

    return session


def test_access_denied_is_reported_and_the_rest_continues(
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(boto3, "Session", deny("kms.ListKeys", "s3.ListBuckets"))
    assert init("--out", "p.toml") == 1
    err = capsys.readouterr().err
    assert (
        "SKIPPED kms: not allowed to call kms:ListKeys (AccessDeniedException): needs kms:ListKeys"
        in err
    )
    assert "SKIPPED s3: not allowed to call s3:ListBuckets" in err
    assert "2 call(s) SKIPPED" in err
    text = Path("p.toml").read_text()
    assert (
        "# SKIPPED not allowed to call kms:ListKeys (AccessDeniedException): needs kms:ListKeys"
        in text
    )
    proposed = read(Path("p.toml"))
    assert proposed["kms"]["volume_key"].startswith("TODO: the keys could not be listed")
    # the rest went on
    assert proposed["vpc"]["subnets"] == account.private
    assert proposed["iam"]["data_access_roles"] == [account.role]
    # whose the buckets are is unknown: none is proposed, the choice is left open
    assert "# not proposed: 'corpus'" in text
    assert "whether this account owns it is unknown" in text
    assert 'allowed_buckets = [\n    "TODO: ' in text


def test_nothing_listed_is_exit_2_and_nothing_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        boto3, "Session", deny("ec2.DescribeSubnets", "kms.ListKeys", "iam.ListRoles")
    )
    assert init("--out", "p.toml") == 2
    err = capsys.readouterr().err
    assert "SKIPPED iam: not allowed to call iam:ListRoles" in err
    assert "secure-comprehend: error: no VPC, key or role could be listed" in err
    assert not Path("p.toml").exists()


def test_init_has_help_with_an_example_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    text = capsys.readouterr().out
    assert "example:\n  AWS_PROFILE=ml secure-comprehend init" in text
    assert "1  written, with TODO values to resolve" in text
    assert "or --out exists (never overwritten)" in text
    assert "--config" not in text  # it reads no posture


ROLE = f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"


@pytest.mark.parametrize(
    ("statement", "kind", "why"),
    [
        ({"Principal": {"AWS": ROLE}, "Action": USES}, "comprehend", f"names {ROLE}"),
        (
            {"Principal": {"Service": "comprehend.amazonaws.com"}, "Action": "kms:*"},
            "comprehend",
            "names the service principal comprehend.amazonaws.com",
        ),
        (
            {"Principal": {"AWS": ROLE}, "Action": ["kms:Decrypt"]},
            "no",
            "does not allow kms:CreateGrant, kms:GenerateDataKey, kms:RetireGrant",
        ),
        (
            {"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*"},
            "account",
            f"delegates to account {ACCOUNT}",
        ),
        (
            {"Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:*"},
            "no",
            "names no role Comprehend may assume",
        ),
        ({"Principal": {"AWS": "*"}, "Action": "kms:*"}, "no", "lets anyone use it"),
        (
            {
                "Principal": "*",
                "Action": "kms:*",
                "Condition": {"StringEquals": {"kms:ViaService": "comprehend.x.amazonaws.com"}},
            },
            "no",
            "lets anyone use it",  # any account's Comprehend jobs
        ),
        (
            {"Principal": {"AWS": ROLE}, "NotAction": "kms:ScheduleKeyDeletion"},
            "no",
            "names no role",  # NotAction is not credited
        ),
    ],
)
def test_key_policy_reading(statement: dict[str, Any], kind: str, why: str) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Resource": "*", **statement}]}
    found, reason = _key_policy(policy, ACCOUNT, [ROLE])
    assert (found, why in reason) == (kind, True), reason


def test_an_unconditional_deny_wins() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": USES, "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"},
        ]
    }
    assert _key_policy(policy, ACCOUNT, [ROLE]) == (
        "no",
        "its policy denies kms:Decrypt without condition",
    )


@pytest.mark.parametrize("out", ["posture.json", "posture", "new.toml\n"])
def test_init_refuses_a_name_the_posture_could_not_be_read_from(
    out: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from secure_comprehend.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["init", "--region", "us-east-1", "--out", out]) == 2
    assert "secure-comprehend: error: --out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_subnet_routed_to_an_internet_gateway_by_any_route_is_not_private() -> None:
    """0.0.0.0/1 and 128.0.0.0/1 (or ::/0) to an internet gateway make a subnet public as
    surely as 0.0.0.0/0: it is never proposed as private."""
    from secure_comprehend.account.discover import _judge_subnet

    subnet = {"SubnetId": "subnet-1", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a"}
    halves = [
        {"DestinationCidrBlock": "0.0.0.0/1", "GatewayId": "igw-1"},
        {"DestinationCidrBlock": "128.0.0.0/1", "GatewayId": "igw-1"},
        {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-1"},
    ]
    table = {"RouteTableId": "rtb-1", "Associations": [{"SubnetId": "subnet-1"}], "Routes": halves}
    assert _judge_subnet(subnet, [table], {}, "pl-s3").public == "igw-1"
    ipv6 = [{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-2"}]
    assert _judge_subnet(subnet, [{**table, "Routes": ipv6}], {}, "pl-s3").public == "igw-2"


def test_a_gateway_endpoint_counts_as_s3_s_only_by_s3_s_prefix_list() -> None:
    """Without S3's prefix list (it could not be read), a DynamoDB gateway endpoint is no
    path to S3."""
    from secure_comprehend.account.discover import _judge_subnet

    subnet = {"SubnetId": "subnet-1", "VpcId": "vpc-1", "AvailabilityZone": "us-east-1a"}
    dynamodb = [{"DestinationPrefixListId": "pl-dynamodb", "GatewayId": "vpce-2"}]
    table = {
        "RouteTableId": "rtb-1",
        "Associations": [{"SubnetId": "subnet-1"}],
        "Routes": dynamodb,
    }
    assert _judge_subnet(subnet, [table], {}, None).path is None
    assert _judge_subnet(subnet, [table], {}, "pl-s3").path is None


def test_a_policy_init_cannot_read_leaves_that_key_out(
    account: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One key policy that is not JSON (an odd answer) leaves that key out, with a note;
    init still writes the rest."""
    real = boto3.Session

    def garbled(**kwargs: Any) -> boto3.Session:
        from botocore.awsrequest import AWSResponse

        made = real(**kwargs)
        made.events.register(
            "before-call.kms.GetKeyPolicy",
            lambda **_: (AWSResponse("https://aws", 200, {}, None), {"Policy": "{not json"}),
        )
        return made

    monkeypatch.setattr(boto3, "Session", garbled)
    assert init("--out", "p.toml") == 1
    text = Path("p.toml").read_text()
    assert "its key policy could not be read (" in text
    assert read(Path("p.toml"))["vpc"]["subnets"] == account.private
