"""``secure-comprehend publish``: a posture file written to a fleet source, then read back.

SSM, Secrets Manager, S3 and STS are moto's; a refusal by AWS (AccessDenied) is answered
on the wire by a handler on the default session, as botocore would receive it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import GROUPS, REGION, ROLES
from fleet_support import OTHER_SUBNETS, PARAMETER, Clock, posture_toml

import secure_comprehend as sc
from secure_comprehend.cli import main

BUCKET = "org-postures"
SECRET = "comprehend/posture"
APPCONFIG = "appconfig:ml-platform/prod/comprehend-posture"
# what each store holds after a publish, read with plain boto3


def _ssm_text() -> str:
    ssm = boto3.client("ssm", region_name=REGION)
    return str(ssm.get_parameter(Name=PARAMETER, WithDecryption=True)["Parameter"]["Value"])


def _secret_text() -> str:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    return str(secrets.get_secret_value(SecretId=SECRET)["SecretString"])


def _s3_text() -> str:
    s3 = boto3.client("s3", region_name=REGION)
    return str(s3.get_object(Bucket=BUCKET, Key="comprehend.toml")["Body"].read().decode())


STORES = {
    f"ssm:{PARAMETER}": _ssm_text,
    f"secretsmanager:{SECRET}": _secret_text,
    f"s3://{BUCKET}/comprehend.toml": _s3_text,
}


@pytest.fixture
def aws(moto: None, region: None, clock: Clock) -> None:
    """moto, a region, a clean posture cache, and the bucket (unversioned)."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)


def posture_file(tmp_path: Path, text: str | None = None, name: str = "posture.toml") -> Path:
    path = tmp_path / name
    text = "# reviewed by security, ticket SEC-42\n" + posture_toml() if text is None else text
    path.write_text(text)
    return path


def publish(
    capsys: pytest.CaptureFixture[str], source: str, *options: str
) -> tuple[int, dict[str, Any], str]:
    """Run publish --json; its exit code, its JSON and its stderr."""
    code = main(["publish", source, *options, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else {}, out.err


def _version_from_show(source: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["show", "--config", source, "--region", REGION, "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)["origin"]["version"])


@pytest.mark.parametrize(
    ("source", "versioned"),
    [(source, False) for source in STORES] + [(f"s3://{BUCKET}/comprehend.toml", True)],
    ids=["ssm", "secretsmanager", "s3 unversioned", "s3 versioned"],
)
def test_publish_then_doctor_round_trips(
    source: str,
    versioned: bool,
    aws: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if versioned:
        boto3.client("s3", region_name=REGION).put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
    file = posture_file(tmp_path)
    code, report, _ = publish(capsys, source, "--config", str(file))
    assert code == 0, report
    assert report["published"] is True
    assert report["source"] == source and report["region"] == REGION
    # the file's text exactly, comments included
    assert STORES[source]() == file.read_text()
    assert sc.load_posture(source) == sc.load_posture(str(file))
    # the version publish reports is the one show and doctor report after reading it
    assert _version_from_show(source, capsys) == report["version"]
    if source.startswith("s3"):
        assert ("version_id" in report) is versioned
        assert report["etag"]
    main(["doctor", "--config", source, "--region", REGION])  # 1: moto has no such subnets
    out = capsys.readouterr().out
    assert f"posture loaded from {source} in {REGION}, version {report['version']}" in out


@pytest.mark.parametrize("source", list(STORES))
def test_publishing_again_is_a_new_version_that_readers_read(
    source: str, aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = posture_file(tmp_path)
    first = publish(capsys, source, "--config", str(file))[1]
    assert sc.load_posture(source).vpc is not None  # cached in this process
    file.write_text(posture_toml(OTHER_SUBNETS))
    code, second, _ = publish(capsys, source, "--config", str(file))
    assert code == 0
    assert second["version"] != first["version"]
    if not source.startswith("s3"):
        assert (first["created"], second["created"]) == (True, False)
    posture = sc.load_posture(source)  # publish forgot this process's copy
    assert posture.vpc is not None and posture.vpc.subnets == OTHER_SUBNETS
    assert _version_from_show(source, capsys) == second["version"]


def test_the_text_report_names_the_file_the_source_and_the_version(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = posture_file(tmp_path)
    size = len(file.read_bytes())
    assert main(["publish", f"ssm:{PARAMETER}", "--config", str(file)]) == 0
    out = capsys.readouterr().out
    assert (
        f"published {file} ({size:,} bytes, TOML) to ssm:{PARAMETER} in {REGION}: version 1" in out
    )
    assert "a new SecureString parameter" in out
    assert f"secure-comprehend doctor --config ssm:{PARAMETER} --region {REGION}" in out
    assert main(["publish", f"s3://{BUCKET}/comprehend.toml", "--config", str(file)]) == 0
    assert "(the bucket is not versioned)" in capsys.readouterr().out


INVALID = {
    "a bad subnet": posture_toml().replace("subnet-0123456789abcdef1", "subnet-bad"),
    "not TOML": "mode = \n",
    "JSON in a .toml file": json.dumps({"mode": "audit"}),
    "empty": "# nothing yet\n",
}


@pytest.mark.parametrize("source", [*STORES, APPCONFIG])
@pytest.mark.parametrize("text", list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_posture_is_refused_and_nothing_is_written(
    source: str, text: str, aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _requests()
    file = posture_file(tmp_path, text)
    code, report, err = publish(capsys, source, "--config", str(file))
    assert code == 2
    assert str(file) in report["error"]["message"] and str(file) in err
    assert sent == []  # nothing written, nor asked
    if source != APPCONFIG:
        with pytest.raises(Exception, match=r"NotFound|NoSuchKey"):
            STORES[source]()


def test_an_invalid_posture_names_the_value(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = posture_file(tmp_path, INVALID["a bad subnet"])
    assert main(["publish", f"ssm:{PARAMETER}", "--config", str(file)]) == 2
    err = capsys.readouterr().err
    assert "'subnet-bad'" in err and f"file {file}" in err
    assert main(["show", "--config", str(file)]) == 2
    assert capsys.readouterr().err == err  # as show says it


def test_an_invalid_posture_leaves_the_published_one_as_it_was(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = posture_file(tmp_path)
    publish(capsys, f"ssm:{PARAMETER}", "--config", str(good))
    bad = posture_file(tmp_path, INVALID["a bad subnet"], "bad.toml")
    assert publish(capsys, f"ssm:{PARAMETER}", "--config", str(bad))[0] == 2
    assert _ssm_text() == good.read_text()
    assert _version_from_show(f"ssm:{PARAMETER}", capsys) == "1"


def test_the_environment_is_not_published(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's posture is published; this shell's variables apply only here."""
    file = posture_file(tmp_path)
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "observe")
    code, _, err = publish(capsys, f"ssm:{PARAMETER}", "--config", str(file))
    assert code == 0
    assert "not published: SECURE_COMPREHEND_MODE" in err
    assert _ssm_text() == file.read_text()
    monkeypatch.delenv("SECURE_COMPREHEND_MODE")
    assert sc.load_posture(f"ssm:{PARAMETER}").mode == "enforce"


def test_a_posture_valid_only_with_this_shells_variables_is_refused(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader without the variable would fail closed: the document must stand alone."""
    file = posture_file(tmp_path, posture_toml(mode="strict"))
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    assert sc.load_posture(str(file)).mode == "audit"  # valid here, with the variable
    code, report, _ = publish(capsys, f"ssm:{PARAMETER}", "--config", str(file))
    assert code == 2
    assert "'strict'" in report["error"]["message"]
    with pytest.raises(Exception, match="ParameterNotFound"):
        _ssm_text()


def test_a_json_file_is_published_as_json(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {
        "mode": "audit",
        "vpc": {"subnets": list(OTHER_SUBNETS), "security_group_ids": list(GROUPS)},
        "iam": {"data_access_roles": list(ROLES)},
    }
    file = posture_file(tmp_path, json.dumps(document, indent=2), "posture.json")
    code, report, _ = publish(capsys, f"secretsmanager:{SECRET}", "--config", str(file))
    assert code == 0 and report["format"] == "json"
    assert json.loads(_secret_text()) == document
    assert sc.load_posture(f"secretsmanager:{SECRET}") == sc.load_posture(str(file))


def test_the_usual_lookup_finds_the_file(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = posture_file(tmp_path, name="secure_comprehend.toml")  # the working directory's
    code, report, _ = publish(capsys, f"ssm:{PARAMETER}")
    assert code == 0 and report["file"] == "secure_comprehend.toml"
    assert _ssm_text() == file.read_text()


def test_a_fleet_source_as_the_posture_file_is_refused(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", f"ssm:{PARAMETER}")
    code, report, _ = publish(capsys, f"s3://{BUCKET}/comprehend.toml")
    assert code == 2
    assert "publish reads a posture file" in report["error"]["message"]


def test_no_posture_file_says_where_it_looked(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, _ = publish(capsys, f"ssm:{PARAMETER}")
    assert code == 2
    assert "no posture file to publish: pass --config FILE" in report["error"]["message"]


@pytest.mark.parametrize(
    "source",
    ["ssm://org/posture", "SSM:/org/posture", "secretmanager:posture", "s3:/b/k", "s3://bucket"],
)
def test_a_misspelt_source_is_the_readers_error(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = posture_file(tmp_path)
    assert main(["show", "--config", source]) == 2
    reader = capsys.readouterr().err
    assert main(["publish", source, "--config", str(file)]) == 2
    assert capsys.readouterr().err == reader.replace("(from --config)", "(from SOURCE)")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("posture.toml", "is not a fleet source"),
        (f"ssm:{PARAMETER}:3", f"publish writes a new version of ssm:{PARAMETER}"),
        (
            f"ssm:arn:aws:ssm:eu-west-1:123456789012:parameter{PARAMETER}",
            f"publish to ssm:{PARAMETER} with --region eu-west-1",
        ),
    ],
)
def test_a_source_publish_cannot_write_is_refused_before_anything(
    source: str, message: str, aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _requests()
    file = posture_file(tmp_path)
    assert main(["publish", source, "--config", str(file)]) == 2
    assert message in capsys.readouterr().err
    assert sent == []


def test_a_document_too_large_for_ssm_is_refused_before_writing(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _requests()
    file = posture_file(tmp_path, "#" + "x" * 9000 + "\n" + posture_toml())
    code, report, _ = publish(capsys, f"ssm:{PARAMETER}", "--config", str(file))
    assert code == 2
    assert "an SSM parameter holds at most 8,192" in report["error"]["message"]
    assert sent == []
    assert publish(capsys, f"s3://{BUCKET}/comprehend.toml", "--config", str(file))[0] == 0


def test_an_existing_parameter_keeps_its_type_and_a_new_one_is_a_secure_string(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/org/plain", Value="mode = 'audit'", Type="String")
    file = posture_file(tmp_path)
    assert publish(capsys, "ssm:/org/plain", "--config", str(file))[0] == 0
    key = f"arn:aws:kms:{REGION}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    code, report, _ = publish(capsys, f"ssm:{PARAMETER}", "--config", str(file), "--kms-key", key)
    assert code == 0 and report["type"] == "SecureString" and report["kms_key"] == key
    described = {p["Name"]: p for p in ssm.describe_parameters()["Parameters"]}
    assert described["/org/plain"]["Type"] == "String"
    assert described["/org/plain"]["Version"] == 2
    assert described[PARAMETER]["Type"] == "SecureString"
    assert described[PARAMETER]["KeyId"] == key


def test_s3_writes_only_to_a_bucket_of_the_expected_owner(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bucket names are global: the write expects the owner the reader expects."""
    sent = _requests()
    file = posture_file(tmp_path)
    assert main(["publish", f"s3://{BUCKET}/comprehend.toml", "--config", str(file)]) == 0
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    puts = [r for r in sent if r.method == "PUT"]
    assert [r.headers["x-amz-expected-bucket-owner"] for r in puts] == [account.encode()]
    sent.clear()
    other = f"s3://{BUCKET}/comprehend.toml?owner=444455556666"
    assert main(["publish", other, "--config", str(file)]) == 0
    assert [r.headers["x-amz-expected-bucket-owner"] for r in sent] == [b"444455556666"]


DENIED = {
    f"ssm:{PARAMETER}": ("ssm", "ssm:PutParameter"),
    f"secretsmanager:{SECRET}": ("secretsmanager", "secretsmanager:PutSecretValue"),
    f"s3://{BUCKET}/comprehend.toml": ("s3", "s3:PutObject"),
}


@pytest.mark.parametrize("source", list(DENIED))
def test_access_denied_names_the_permission(
    source: str, aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service, action = DENIED[source]
    _deny(service)
    file = posture_file(tmp_path)
    code, report, _ = publish(capsys, source, "--config", str(file))
    assert code == 2
    message = report["error"]["message"]
    assert f"posture source {source} ({REGION}) could not be written" in message
    assert "AccessDenied" in message and f"publishing needs {action}" in message


def test_appconfig_prints_the_deploy_commands_and_writes_nothing(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = _requests(every=True)
    file = posture_file(tmp_path)
    assert main(["publish", APPCONFIG, "--config", str(file), "--region", REGION]) == 0
    out = capsys.readouterr()
    assert "Nothing was written to " + APPCONFIG in out.out
    code, report, _ = publish(capsys, APPCONFIG, "--config", str(file))
    assert code == 0 and report["published"] is False
    create, deploy = (shlex.split(line) for line in report["commands"])
    assert create[:3] == ["version=$(aws", "appconfig", "create-hosted-configuration-version"]
    assert f"fileb://{file}" in create and "application/toml" in create
    assert create[create.index("--application-id") + 1] == "ml-platform"
    assert create[create.index("--configuration-profile-id") + 1] == "comprehend-posture"
    assert create[create.index("--region") + 1] == REGION
    assert deploy[:3] == ["aws", "appconfig", "start-deployment"]
    assert deploy[deploy.index("--environment-id") + 1] == "prod"
    assert "take IDs, not names (ml-platform, comprehend-posture)" in " ".join(report["notes"])
    assert sent == []  # AppConfig is never called, nor anything else


def test_appconfig_takes_no_kms_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = posture_file(tmp_path)
    assert main(["publish", APPCONFIG, "--config", str(file), "--kms-key", "alias/k"]) == 2
    assert "--kms-key does not apply to appconfig" in capsys.readouterr().err


# --- what left the process


def _requests(every: bool = False) -> list[Any]:
    """The default session's requests to the stores (every request with ``every``)."""
    from secure_comprehend.posture.loading import default_session

    sent: list[Any] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request)

    events = default_session().events
    for service in ("before-send",) if every else ("before-send.ssm", "before-send.s3"):
        events.register(service, record)
    if not every:
        events.register("before-send.secrets-manager", record)
    return sent


def _deny(service: str) -> None:
    """The default session's writes to ``service`` answered AccessDenied, as AWS answers."""
    from botocore.awsrequest import AWSResponse

    from secure_comprehend.posture.loading import default_session

    def deny(request: Any, **_: Any) -> Any:
        if request.method == "GET":
            return None
        if service == "s3":
            xml = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            return AWSResponse(request.url, 403, {}, _Raw(xml))  # type: ignore[arg-type]
        error = {"__type": "AccessDeniedException", "message": "not authorized"}
        headers: Any = {"x-amzn-ErrorType": "AccessDeniedException"}
        return AWSResponse(request.url, 400, headers, _Raw(json.dumps(error).encode()))

    event = {"secretsmanager": "secrets-manager"}.get(service, service)
    default_session().events.register(f"before-send.{event}", deny)


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def test_a_secret_named_by_an_arn_that_does_not_exist_is_not_created(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{SECRET}-AbCdEf"
    file = posture_file(tmp_path)
    code, report, _ = publish(capsys, f"secretsmanager:{arn}", "--config", str(file))
    assert code == 2
    assert "a new secret is created by name" in report["error"]["message"]
    assert boto3.client("secretsmanager", region_name=REGION).list_secrets()["SecretList"] == []


@pytest.mark.usefixtures("aws")
def test_a_key_for_a_plaintext_parameter_is_refused_not_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SSM encrypts a SecureString only: --kms-key on an existing String is refused, and
    nothing is written, rather than reported as encrypted."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=PARAMETER, Value="old", Type="String")
    key = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    path = posture_file(tmp_path)
    code, _, err = publish(capsys, f"ssm:{PARAMETER}", "--config", str(path), "--kms-key", key)
    assert code == 2 and "is a String, which SSM does not encrypt" in err
    assert ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == "old"
