"""why JOB: a failed or stuck job, checked by its own recorded configuration (issue 22).

Jobs run in moto; moto never fails one, so the test sets the status and message in
moto's comprehend backend (``comprehend_backends[ACCOUNT][REGION].jobs``), as AWS would
record them. moto has no iam:SimulatePrincipalPolicy: ``answer_simulations`` answers it
from moto's IAM state (tests/iam_simulator.py). Where AWS answers differently from moto
(a bare ID asked of another job type's Describe*Job), botocore's Stubber answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from iam_simulator import answer_simulations
from test_preflight import REGION, World, grant, make_role, make_world

import secure_comprehend as sc
from secure_comprehend.account.why import (
    JobNotFound,
    WhyReport,
    describe_job,
    job_types,
    parse_job,
    why,
)
from secure_comprehend.cli import main

pytestmark = pytest.mark.usefixtures("moto")
ACCOUNT = "123456789012"  # moto's
BUCKET = "corp-ml-data"
INPUT, OUTPUT = f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out/"
NO_READ = (
    "NO_READ_ACCESS_TO_INPUT: The provided data access role does not have proper access to "
    "the input data."
)


@pytest.fixture
def world() -> World:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return make_world()  # its role is granted the network interfaces and its key, not S3


def with_s3(keys: list[str]) -> dict[str, Any]:
    """grant(keys) and read/write on the bucket: everything a job needs."""
    policy = grant(keys)
    policy["Statement"] += [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
    ]
    return policy


def start(world: World, **overrides: Any) -> str:
    """An entities detection job in the world's VPC under its key and role; its ID."""
    params: dict[str, Any] = {
        "InputDataConfig": {"S3Uri": INPUT},
        "OutputDataConfig": {"S3Uri": OUTPUT, "KmsKeyId": world.key},
        "DataAccessRoleArn": world.role,
        "LanguageCode": "en",
        "VolumeKmsKeyId": world.key,
        "VpcConfig": {"Subnets": world.subnets[:2], "SecurityGroupIds": [world.group]},
        **overrides,
    }
    client = boto3.client("comprehend", region_name=REGION)
    return str(client.start_entities_detection_job(**params)["JobId"])


def record(job_id: str, status: str, message: str | None = None) -> None:
    """What AWS would have recorded: moto cannot fail a job, its backend can."""
    from moto.comprehend.models import comprehend_backends

    job = comprehend_backends[ACCOUNT][REGION].jobs[job_id]
    job.job_status = status
    if message is not None:
        job.message = message


def simulated() -> boto3.Session:
    session = boto3.Session(region_name=REGION)
    answer_simulations(session, boto3.client("iam"))
    return session


def run(job: str, posture: sc.Posture | None = None) -> WhyReport:
    return why(job, posture, session=simulated(), region_name=REGION, judge=posture is not None)


def causes(report: WhyReport) -> list[tuple[str, str]]:
    return [(c.area, c.reason) for c in report.causes]


def compliant_posture(world: World) -> sc.Posture:
    return sc.Posture(
        vpc={"subnets": world.subnets[:2], "security_group_ids": [world.group]},
        kms={"volume_key": world.key, "output_key": world.key},
        iam={"data_access_roles": [world.role]},
    )


# The three failures of the issue


def test_a_role_without_s3_read_is_the_likely_cause(world: World) -> None:
    job = start(world)
    record(job, "FAILED", NO_READ)
    report = run(job, compliant_posture(world))
    role = world.role.rsplit("/", 1)[1]
    assert report.checked and not report.ok
    assert causes(report)[0] == (
        "roles",
        f"the role {role} may not s3:GetObject, s3:ListBucket on {INPUT} "
        "(SimulatePrincipalPolicy: implicitDeny). Fix: add an Allow of s3:GetObject, "
        f"s3:ListBucket on arn:aws:s3:::{BUCKET}, arn:aws:s3:::{BUCKET}/in/* to the role's "
        "permissions policy, or attach the PermissionsPolicy of 'secure-comprehend policy "
        "--kind data-access-role' (its [s3] allowed_buckets must include the bucket)",
    )
    assert f"may not s3:PutObject on {OUTPUT}" in causes(report)[1][1]
    assert len(report.causes) == 2  # the network, the key and the trust passed
    assert report.compliant is True
    text = str(report)
    assert text.index("likely cause:") < text.index(f"s3:GetObject, s3:ListBucket on {INPUT}")
    assert text.index(f"on {INPUT}") < text.index(f"on {OUTPUT}")
    assert "posture: the job is compliant with the posture as loaded now" in text


def test_a_key_the_role_may_not_use_is_the_likely_cause(world: World) -> None:
    kms = boto3.client("kms", region_name=REGION)
    other = kms.create_key()["KeyMetadata"]["Arn"]
    role = make_role("OnlyTheFirstKey", policy=with_s3([world.key]))
    job = start(world, DataAccessRoleArn=role, VolumeKmsKeyId=other)
    record(job, "FAILED", "KMS_ACCESS_DENIED: the volume key could not be used")
    report = run(job)
    assert causes(report) == [
        (
            "roles",
            "the role OnlyTheFirstKey may not kms:CreateGrant, kms:Decrypt, "
            f"kms:GenerateDataKey, kms:RetireGrant on key {other} (SimulatePrincipalPolicy: "
            f"implicitDeny). Fix: add an Allow of kms:CreateGrant, kms:Decrypt, "
            f"kms:GenerateDataKey, kms:RetireGrant on {other}, or attach the "
            "PermissionsPolicy of 'secure-comprehend policy --kind data-access-role'",
        )
    ]
    # the key itself is fine, and its policy delegates to the account: the role decides
    kms_checks = {(c.area, c.status) for c in report.checks if c.subject == other}
    assert kms_checks == {("kms", "PASS"), ("key policy", "PASS")}


def test_a_subnet_without_a_path_to_s3_is_the_likely_cause_of_a_stuck_job(
    world: World,
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
        "SecurityGroups"
    ][0]["GroupId"]
    role = make_role("Granted", policy=with_s3([world.key]))
    job = start(
        world,
        DataAccessRoleArn=role,
        VpcConfig={"Subnets": [subnet], "SecurityGroupIds": [group]},
    )
    record(job, "IN_PROGRESS")
    report = run(job)
    assert report.checked
    [(area, reason)] = causes(report)
    assert area == "s3 path"
    assert "has no route to an S3 gateway endpoint nor a default route to a NAT gateway" in reason
    assert f"Fix: create a Gateway VPC endpoint for com.amazonaws.{REGION}.s3" in reason
    assert report.causes[0].subject == subnet
    assert "IN_PROGRESS for 0h 0m" in str(report)


def test_the_job_s_message_ranks_the_causes(world: World) -> None:
    """Two faults: the subnet's path first when the job says it could not read its input,
    the key first when it says the key."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    other = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    role = make_role("Granted", policy=with_s3([world.key]))
    job = start(
        world,
        DataAccessRoleArn=role,
        VolumeKmsKeyId=other,
        VpcConfig={"Subnets": [subnet], "SecurityGroupIds": [group]},
    )
    record(job, "FAILED", "Could not use the KMS key")
    assert f"on key {other}" in run(job).causes[0].reason
    record(job, "FAILED", NO_READ)
    assert run(job).causes[0].area in ("s3 path", "security groups")


def test_a_bucket_s_default_key_the_role_may_not_use_is_a_cause(world: World) -> None:
    other = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    boto3.client("s3", region_name=REGION).put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": other,
                    }
                }
            ]
        },
    )
    role = make_role("Granted", policy=with_s3([world.key]))
    job = start(world, DataAccessRoleArn=role)
    record(job, "FAILED", NO_READ)
    reasons = [reason for _, reason in causes(run(job))]
    assert [r.split(" (Simulate")[0] for r in reasons] == [
        "the role Granted may not kms:Decrypt, kms:GenerateDataKey on key "
        f"{other} (bucket {BUCKET}'s default)"
    ]


def test_without_the_simulator_the_role_is_read_by_hand_and_the_uri_still_named(
    world: World,
) -> None:
    from botocore.awsrequest import AWSResponse

    session = boto3.Session(region_name=REGION)

    def denied(**_: Any) -> Any:
        error = {"Error": {"Code": "AccessDenied", "Message": "no"}}
        response = AWSResponse("https://iam.amazonaws.com/", 403, {}, None)
        return response, {**error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    session.events.register("before-call.iam.SimulatePrincipalPolicy", denied)
    job = start(world)
    record(job, "FAILED", NO_READ)
    report = why(job, session=session, region_name=REGION, judge=False)
    assert causes(report)[0] == (
        "roles",
        f"not granted for input {INPUT}: s3:GetObject, s3:ListBucket. Fix: attach the "
        "PermissionsPolicy of 'secure-comprehend policy --kind data-access-role'",
    )
    assert any(
        c.status == "WARN" and "policy simulator could not be used" in c.reason
        for c in report.checks
    )


# Jobs that need no explanation, and the posture


def test_a_completed_job_is_not_checked_and_says_whether_it_was_compliant(world: World) -> None:
    job = start(world, VpcConfig={"Subnets": world.subnets[:3], "SecurityGroupIds": [world.group]})
    record(job, "COMPLETED")
    report = run(job, compliant_posture(world))
    assert report.ok and not report.checked and report.checks == []
    assert [(v.path, v.reason) for v in report.violations or ()] == [
        ("VpcConfig.Subnets[2]", "not approved")
    ]
    text = str(report)
    assert "not checked: the job completed" in text
    assert "the job is NOT compliant with the posture as loaded now" in text


def test_a_failed_job_with_nothing_wrong_found_is_ok_and_says_what_is_not_seen(
    world: World,
) -> None:
    role = make_role("Granted", policy=with_s3([world.key]))
    job = start(world, DataAccessRoleArn=role)
    record(job, "FAILED", "INTERNAL_SERVER_ERROR")
    report = run(job)
    assert report.ok and report.checked
    assert report.counts()["FAIL"] == 0
    assert "no cause found" in str(report)


def test_a_bucket_that_does_not_exist_is_a_cause(world: World) -> None:
    role = make_role("Granted", policy=with_s3([world.key]))
    job = start(world, DataAccessRoleArn=role, InputDataConfig={"S3Uri": "s3://corp-ml-gone/in/"})
    record(job, "FAILED", NO_READ)
    report = run(job)
    assert causes(report)[0] == ("s3 buckets", "does not exist: jobs that read or write it fail")
    assert report.causes[0].subject == "corp-ml-gone"


# Finding the job


def test_job_types_are_every_start_job_of_botocore_s_model() -> None:
    from secure_comprehend.decision.operations import default_model

    model = default_model()[0]
    starts = {n for n in model.operation_names if n.startswith("Start") and n.endswith("Job")}
    types = job_types()
    assert {t.start for t in types} == starts
    entities = next(t for t in types if t.start == "StartEntitiesDetectionJob")
    assert (entities.describe, entities.properties, entities.resource) == (
        "DescribeEntitiesDetectionJob",
        "EntitiesDetectionJobProperties",
        "entities-detection-job",
    )


def test_a_job_arn_names_its_type_and_region() -> None:
    job_id, kind, region = parse_job(
        "arn:aws:comprehend:eu-west-1:111122223333:pii-entities-detection-job/abc123"
    )
    assert (job_id, region) == ("abc123", "eu-west-1")
    assert kind is not None and kind.describe == "DescribePiiEntitiesDetectionJob"
    for bad, why_not in (
        ("arn:aws:comprehend:eu-west-1:111122223333:endpoint/x", "not a Comprehend job ARN"),
        ("arn:aws:comprehend:eu-west-1:111122223333:nonsense-job/x", "not a job type"),
        ("a/b", "neither a job ID nor"),
        (" ", "the job is empty"),
    ):
        with pytest.raises(ValueError, match=why_not):
            parse_job(bad)


def test_a_bare_id_is_asked_of_each_type_until_one_knows_it() -> None:
    """AWS answers JobNotFoundException for a job of another type; the first that knows it
    ends the search."""
    client = boto3.client("comprehend", region_name=REGION)
    types = job_types()
    wanted = next(i for i, t in enumerate(types) if t.start == "StartEntitiesDetectionJob")
    arn = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:entities-detection-job/abc"
    with Stubber(client) as stub:
        for kind in types[:wanted]:
            stub.add_client_error(
                f"describe_{kind.resource.replace('-', '_')}",
                "JobNotFoundException",
                expected_params={"JobId": "abc"},
            )
        stub.add_response(
            "describe_entities_detection_job",
            {
                "EntitiesDetectionJobProperties": {
                    "JobId": "abc",
                    "JobArn": arn,
                    "JobStatus": "FAILED",
                }
            },
            {"JobId": "abc"},
        )
        kind, properties = describe_job(client, "abc")
        stub.assert_no_pending_responses()
    assert kind.start == "StartEntitiesDetectionJob"
    assert properties["JobArn"] == arn


def test_a_job_no_type_knows_names_what_it_could_not_ask() -> None:
    client = boto3.client("comprehend", region_name=REGION)
    types = job_types()
    with Stubber(client) as stub:
        for i, kind in enumerate(types):
            code = "AccessDeniedException" if i == 0 else "JobNotFoundException"
            stub.add_client_error(f"describe_{kind.resource.replace('-', '_')}", code)
        with pytest.raises(JobNotFound) as raised:
            describe_job(client, "abc")
    assert str(raised.value) == (
        f"no job abc in {REGION}; not allowed to call comprehend:{types[0].describe} "
        "(AccessDenied): it may be of those types: needs those permissions"
    )


# The command


def write_posture(tmp_path: Path, world: World) -> str:
    path = tmp_path / "posture.toml"
    path.write_text(
        f"[vpc]\nsubnets = {json.dumps(world.subnets[:2])}\n"
        f"security_group_ids = [{json.dumps(world.group)}]\n"
        f'[kms]\nvolume_key = "{world.key}"\noutput_key = "{world.key}"\n'
        f'[iam]\ndata_access_roles = ["{world.role}"]\n'
    )
    return str(path)


@pytest.fixture
def cli_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's own sessions answer SimulatePrincipalPolicy from moto's IAM."""
    iam = boto3.client("iam")
    real = boto3.Session

    def session(*args: Any, **kwargs: Any) -> boto3.Session:
        made = real(*args, **kwargs)
        answer_simulations(made, iam)
        return made

    monkeypatch.setattr(boto3, "Session", session)


@pytest.mark.usefixtures("cli_sessions")
def test_why_prints_the_likely_cause_first_and_exits_1(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = start(world)
    record(job, "FAILED", NO_READ)
    config = write_posture(tmp_path, world)
    assert main(["why", job, "--region", REGION, "--config", config]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    cause = lines.index("likely cause:")
    assert f"may not s3:GetObject, s3:ListBucket on {INPUT}" in lines[cause + 2]
    assert "posture: the job is compliant with the posture as loaded now" in out


@pytest.mark.usefixtures("cli_sessions")
def test_why_takes_the_region_from_the_arn_and_prints_json(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    job = start(world)
    record(job, "FAILED", NO_READ)
    arn = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:entities-detection-job/{job}"
    assert main(["why", arn, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["job"]["status"] == "FAILED" and report["job"]["arn"] == arn
    assert report["job"]["configuration"]["inputs"] == [INPUT]
    assert "implicitDeny" in report["likely_cause"]["reason"]
    assert report["compliance"] == {
        "judged": False,
        "compliant": None,
        "note": "no posture found: pass --config FILE to judge the job",
        "origin": None,
        "violations": [],
    }


@pytest.mark.usefixtures("cli_sessions")
def test_why_a_completed_job_exits_0(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    job = start(world)
    record(job, "COMPLETED")
    assert main(["why", job, "--region", REGION]) == 0
    assert "not checked: the job completed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("job", "error"),
    [
        ("0123456789abcdef", f"no job 0123456789abcdef in {REGION} (tried the "),
        (
            f"arn:aws:comprehend:eu-west-1:{ACCOUNT}:entities-detection-job/abc",
            "the job ARN is in eu-west-1, not --region us-east-1",
        ),
        ("arn:aws:comprehend:us-east-1:1:x-job/abc", "is not a Comprehend job ARN"),
    ],
)
def test_why_cannot_run_exits_2_with_one_line(
    job: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["why", job, "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.startswith("secure-comprehend: error: ") and error in err
    assert err.count("\n") == 1


def test_why_has_help_with_an_example_and_exit_codes() -> None:
    from secure_comprehend.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    text = commands.choices["why"].format_help()
    assert "example:\n  secure-comprehend why " in text
    assert "1  a likely cause was found" in text


def test_an_arn_of_another_account_is_not_the_job_these_credentials_see(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """moto answers by job ID alone: the ARN's account (or partition) must match the job's."""
    import boto3

    from secure_comprehend.cli import main

    plain = boto3.client("comprehend", region_name="us-east-1")
    arn = plain.start_entities_detection_job(
        InputDataConfig={"S3Uri": "s3://in/"},
        OutputDataConfig={"S3Uri": "s3://out/"},
        LanguageCode="en",
        DataAccessRoleArn="arn:aws:iam::123456789012:role/R",
    )["JobArn"]
    elsewhere = arn.replace(":123456789012:", ":999999999999:")
    assert main(["why", elsewhere]) == 2
    err = capsys.readouterr().err
    assert f"no job {elsewhere} here" in err and "job job" not in err


def test_an_s3_uri_without_a_slash_is_the_prefix_a_job_reads(world: World) -> None:
    """s3://b/in names every object under in/ (AWS reads the prefix): a role granted
    b/in/* and b/out/* has what the job needs; no cause is made up."""
    policy = grant([world.key])
    policy["Statement"] += [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}/in/*", f"arn:aws:s3:::{BUCKET}/out/*"],
        },
    ]
    role = make_role("Prefixes", policy=policy)
    job = start(
        world,
        DataAccessRoleArn=role,
        InputDataConfig={"S3Uri": f"s3://{BUCKET}/in"},
        OutputDataConfig={"S3Uri": f"s3://{BUCKET}/out", "KmsKeyId": world.key},
    )
    record(job, "FAILED", "INTERNAL_SERVER_ERROR")
    assert not [c for c in run(job).causes if c.area == "roles"], causes(run(job))


def test_a_bucket_in_another_region_is_a_cause(world: World) -> None:
    """For one job the region is known: a bucket elsewhere is a cause, not a warning."""
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="corp-ml-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    role = make_role("Everywhere", policy=with_s3([world.key]))
    job = start(world, DataAccessRoleArn=role, InputDataConfig={"S3Uri": "s3://corp-ml-eu/in/"})
    record(job, "FAILED", NO_READ)
    assert ("s3 buckets", "corp-ml-eu") in [(c.area, c.subject) for c in run(job).causes]
