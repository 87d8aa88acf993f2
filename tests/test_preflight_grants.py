"""doctor: what the role is granted (IAM's policy simulator) and the approved buckets.

moto has no iam:SimulatePrincipalPolicy: ``answer_simulations`` answers it at
``before-call``, as botocore's Stubber does, by evaluating the role's policies and
permissions boundary as moto holds them (tests/iam_simulator.py, written from the
IAM documentation); every other call goes to moto.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from iam_simulator import answer_simulations
from test_preflight import REGION, World, _with_stubbed, grant, make_role, make_world, posture

import secure_comprehend as sc

pytestmark = pytest.mark.usefixtures("moto")
ACCOUNT = "123456789012"  # moto's
BUCKET = "corp-ml-data"


@pytest.fixture
def world() -> World:
    return make_world()


def simulated() -> boto3.Session:
    session = boto3.Session(region_name=REGION)
    answer_simulations(session, boto3.client("iam"))
    return session


def doctor(p: sc.Posture, session: boto3.Session | None = None) -> sc.PreflightReport:
    return sc.preflight(p, session=session or simulated(), region_name=REGION)


def roles(report: sc.PreflightReport) -> list[tuple[str, str]]:
    return [(c.status, c.reason) for c in report.checks if c.area == "roles"]


def with_bucket(world: World, **overrides: Any) -> sc.Posture:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return posture(world, s3={"allowed_buckets": [BUCKET]}, **overrides)


def test_a_role_without_s3_grants_on_the_approved_buckets_fails(world: World) -> None:
    """The classic NO_READ_ACCESS_TO_INPUT, found before the job (issue 20, item 16)."""
    report = doctor(with_bucket(world))
    failing = [reason for status, reason in roles(report) if status == "FAIL"]
    assert failing == [
        f"not granted for bucket {BUCKET} (IAM's policy simulator): s3:GetObject, "
        "s3:ListBucket, s3:PutObject. Fix: attach the PermissionsPolicy of "
        "'secure-comprehend policy --kind data-access-role'"
    ]


def test_the_generated_role_policy_passes_iam_s_simulator(world: World) -> None:
    """The generated permissions, conditions included, meet every need with the context a
    job gives: the generated policy and doctor agree."""
    p = with_bucket(world)
    generated = sc.data_access_role_policies(p).documents[world.role]["PermissionsPolicy"]
    role = make_role("Generated", policy=generated)
    report = doctor(p.model_copy(update={"iam": sc.IamSettings(data_access_roles=[role])}))
    assert roles(report) == [
        ("PASS", "trust policy lets comprehend.amazonaws.com assume it"),
        (
            "PASS",
            "IAM's policy simulator allows it the EC2 network-interface and KMS and S3 "
            "actions a job needs, its permissions boundary included (key policies: see key "
            "policy)",
        ),
    ]


def test_a_permissions_boundary_is_evaluated_not_assumed(world: World) -> None:
    iam = boto3.client("iam")
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    boundary = iam.create_policy(PolicyName="b", PolicyDocument=json.dumps(ec2_only))["Policy"]
    role = make_role("Bounded", policy=grant([world.key]), PermissionsBoundary=boundary["Arn"])
    report = doctor(posture(world, iam={"data_access_roles": [role]}))
    assert [s for s, r in roles(report) if "not granted for key" in r] == ["FAIL"]


def test_a_condition_the_simulator_cannot_decide_is_a_warn(world: World) -> None:
    policy = grant([world.key])
    policy["Statement"][1]["Condition"] = {"StringEquals": {"aws:SourceVpce": "vpce-0abc"}}
    role = make_role("Conditional", policy=policy)
    report = doctor(posture(world, iam={"data_access_roles": [role]}))
    warned = [r for s, r in roles(report) if s == "WARN"]
    assert warned == [
        f"granted for key {world.key} only under conditions on aws:SourceVpce, which this "
        "check cannot give the simulator"
    ]


def test_without_the_simulator_the_policies_are_read_by_hand_and_it_says_so(
    world: World,
) -> None:
    session = boto3.Session(region_name=REGION)

    def denied(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        error = {"Error": {"Code": "AccessDenied", "Message": "no"}}
        return AWSResponse("https://iam.amazonaws.com/", 403, {}, None), {
            **error,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    session.events.register("before-call.iam.SimulatePrincipalPolicy", denied)
    report = doctor(with_bucket(world), session)
    statuses = roles(report)
    assert statuses[1] == (
        "WARN",
        "IAM's policy simulator could not be used (not allowed to call "
        "iam:SimulatePrincipalPolicy (AccessDenied): needs iam:SimulatePrincipalPolicy): the "
        "role's policies are read by hand, which sees no condition values and no permissions "
        "boundary",
    )
    assert any(s == "FAIL" and f"for bucket {BUCKET}: s3:GetObject" in r for s, r in statuses)


def test_each_approved_bucket_must_exist_here(world: World) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="corp-ml-out")
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="corp-ml-west", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    allowed = ["corp-ml-out", "corp-ml-west", "corp-ml-gone", "corp-ml-*", "other-*"]
    report = doctor(posture(world, s3={"allowed_buckets": allowed}))
    found = {c.subject: (c.status, c.reason) for c in report.checks if c.area == "s3 buckets"}
    assert found == {
        "corp-ml-out": ("PASS", f"exists, in account {ACCOUNT} and {REGION}"),
        "corp-ml-west": (
            "WARN",
            f"exists, in account {ACCOUNT}, in eu-west-1: only jobs in eu-west-1 can use it (a "
            f"job's S3 URIs must be in the region of the endpoint called, here {REGION})",
        ),
        "corp-ml-gone": ("FAIL", "does not exist: jobs that read or write it fail"),
        "corp-ml-*": ("PASS", "matches 2 bucket(s) here: corp-ml-out, corp-ml-west"),
        "other-*": (
            "WARN",
            "matches none of this account's buckets (a bucket of another account may match "
            "it, and the generated role cannot reach that)",
        ),
    }


@pytest.mark.parametrize("refusal", ["403", "AccessDenied"])
def test_a_bucket_of_another_account_fails(
    world: World, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    """moto ignores ExpectedBucketOwner: S3's 403 for another owner comes from Stubber (a
    HEAD answer has no body: botocore names its error by the status code, "403")."""
    session = simulated()
    with _with_stubbed(session, monkeypatch, "s3") as stub:
        stub.add_client_error(
            "head_bucket",
            refusal,
            http_status_code=403,
            expected_params={"Bucket": "theirs", "ExpectedBucketOwner": ACCOUNT},
        )
        stub.add_response("head_bucket", {"BucketRegion": REGION}, {"Bucket": "theirs"})
        report = doctor(posture(world, s3={"allowed_buckets": ["theirs"]}), session)
        stub.assert_no_pending_responses()
    [check] = [c for c in report.checks if c.area == "s3 buckets"]
    assert (check.status, check.reason) == (
        "FAIL",
        f"is owned by another account, not {ACCOUNT}: the generated role reaches buckets of "
        "its own account only (s3:ResourceAccount)",
    )


def test_a_bucket_we_may_not_look_at_is_skipped_naming_the_permission(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = simulated()
    with _with_stubbed(session, monkeypatch, "s3") as stub:
        stub.add_client_error("head_bucket", "403", http_status_code=403)
        stub.add_client_error("head_bucket", "403", http_status_code=403)
        report = doctor(posture(world, s3={"allowed_buckets": ["hidden"]}), session)
    [check] = [c for c in report.checks if c.area == "s3 buckets"]
    assert check.status == "SKIPPED" and "needs s3:ListBucket" in check.reason


def test_a_key_policy_that_names_the_role_grants_the_key(world: World) -> None:
    """A key policy may grant the role itself: the simulation includes it."""
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    role = make_role("KeyPolicyOnly", policy=ec2_only)
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": role},
                "Action": [
                    "kms:CreateGrant",
                    "kms:RetireGrant",
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                ],
                "Resource": "*",
            },
        ],
    }
    boto3.client("kms", region_name=REGION).put_key_policy(
        KeyId=world.key, PolicyName="default", Policy=json.dumps(key_policy)
    )
    report = doctor(posture(world, iam={"data_access_roles": [role]}))
    assert [s for s, _ in roles(report)] == ["PASS", "PASS"], roles(report)


def test_every_subnet_s_network_interfaces_are_simulated(world: World) -> None:
    """A role allowed the interfaces of one subnet only fails for the other's."""
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{world.subnets[0]}"
    policy = grant([world.key])
    policy["Statement"][0] = {
        "Effect": "Allow",
        "Action": ["ec2:Describe*", "ec2:CreateNetworkInterface"],
        "Resource": "*",
    }
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"ec2:Subnet": arn}},
        }
    )
    role = make_role("OneSubnet", policy=policy)
    report = doctor(posture(world, iam={"data_access_roles": [role]}))
    failing = [r for s, r in roles(report) if s == "FAIL"]
    assert failing and "for network interfaces" in failing[0], roles(report)


def test_a_simulator_answer_that_never_ends_falls_back_with_a_warn(world: World) -> None:
    from botocore.awsrequest import AWSResponse

    session = boto3.Session(region_name=REGION)

    def truncated(**_: Any) -> Any:
        page = {"EvaluationResults": [], "IsTruncated": True, "Marker": "again"}
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, None), page

    session.events.register("before-call.iam.SimulatePrincipalPolicy", truncated)
    report = doctor(posture(world), session)
    assert roles(report)[1][0] == "WARN" and "never ends" in roles(report)[1][1]


@pytest.mark.parametrize(
    ("deny", "status"),
    [
        ({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}, "WARN"),
        (
            {
                "Effect": "Deny",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            "WARN",
        ),
        ({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}, "FAIL"),
    ],
    ids=["deny not-action", "conditional deny", "plain deny"],
)
def test_by_hand_a_deny_that_may_apply_is_a_warn(
    world: World, deny: dict[str, Any], status: str
) -> None:
    """Without the simulator (moto has none), a Deny the reading by hand cannot evaluate
    is never read as absent (PASS) nor as certain (FAIL)."""
    policy = grant([world.key])
    policy["Statement"].append(deny)
    role = make_role("Denied", policy=policy)
    report = doctor(
        posture(world, iam={"data_access_roles": [role]}), boto3.Session(region_name=REGION)
    )
    assert [s for s, _ in roles(report)][2:] == [status], roles(report)


def test_by_hand_resources_match_as_written(world: World) -> None:
    """ARNs are matched exactly as written: a grant on another case is no grant."""
    policy = grant([world.key.upper().replace("ARN:AWS:KMS", "arn:aws:kms")])
    role = make_role("Cased", policy=policy)
    report = doctor(
        posture(world, iam={"data_access_roles": [role]}), boto3.Session(region_name=REGION)
    )
    assert any(s == "FAIL" and "for key" in r for s, r in roles(report)), roles(report)


def test_a_read_that_fails_ends_its_area_with_a_skipped_line_not_a_crash(world: World) -> None:
    """A call that fails for another reason than access (here an error botocore does not
    retry) ends its area with one SKIPPED line saying why; the other areas run."""
    from botocore.awsrequest import AWSResponse

    session = simulated()

    def broken(**_: Any) -> Any:
        error = {"Code": "InvalidParameterValue", "Message": "no"}
        return AWSResponse("", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    session.events.register("before-call.ec2.DescribeSubnets", broken)
    report = doctor(posture(world), session)
    assert ("SKIPPED", "could not be checked: InvalidParameterValue") in [
        (c.status, c.reason) for c in report.checks if c.area == "subnets"
    ]
    assert any(c.area == "roles" and c.status == "PASS" for c in report.checks)


def test_by_hand_every_page_of_the_role_s_policies_is_read(world: World) -> None:
    """The grant is in the role's second page of inline policies (IAM pages listings)."""
    iam = boto3.client("iam")
    role = make_role("Paged")
    for n, statement in enumerate(grant([world.key])["Statement"]):
        iam.put_role_policy(
            RoleName="Paged",
            PolicyName=f"p{n}",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    session = boto3.Session(region_name=REGION)  # no simulator: read by hand
    names = iam.list_role_policies(RoleName="Paged")["PolicyNames"]
    assert len(names) > 1

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["marker"] = params.get("Marker")

    def one_per_page(context: dict[str, Any], **_: Any) -> Any:  # as IAM pages, at before-call
        from botocore.awsrequest import AWSResponse

        at = int(context["marker"] or 0)
        page = {"PolicyNames": names[at : at + 1], "IsTruncated": at + 1 < len(names)}
        if page["IsTruncated"]:
            page["Marker"] = str(at + 1)
        return AWSResponse("", 200, {}, None), page

    session.events.register("before-parameter-build.iam.ListRolePolicies", remember)
    session.events.register("before-call.iam.ListRolePolicies", one_per_page)
    report = doctor(posture(world, iam={"data_access_roles": [role]}), session)
    assert [s for s, _ in roles(report)] == ["PASS", "WARN", "PASS"], roles(report)
