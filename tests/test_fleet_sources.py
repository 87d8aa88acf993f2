"""Fleet posture sources read: SSM, Secrets Manager, S3 and AppConfig, and how a source
that cannot be read, or is malformed, fails.

SSM, Secrets Manager and S3 are moto's; AppConfig's data plane (which moto does
not implement) is a fake answering botocore's real requests on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from conftest import GROUPS, REGION, ROLES, SUBNETS
from fleet_support import (
    OTHER_SUBNETS,
    PARAMETER,
    Clock,
    posture_toml,
    start_job,
    vpc_of,
)

import secure_comprehend as sc
from secure_comprehend.posture.fleet import cache as _live


def test_ssm_secure_string_through_the_config_variable(
    ssm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", f"ssm:{PARAMETER}")
    client = sc.client()
    recorded = start_job(client)
    assert recorded["VpcConfig"]["Subnets"] == list(SUBNETS)
    assert recorded["DataAccessRoleArn"] == ROLES[0]


def test_ssm_by_arn_reads_the_region_the_arn_names(moto: None, clock: Clock) -> None:
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name=PARAMETER, Value=posture_toml(), Type="String"
    )
    arn = f"arn:aws:ssm:eu-west-1:123456789012:parameter{PARAMETER}"
    # no region configured anywhere: the ARN's is used
    assert sc.load_posture(f"ssm:{arn}").vpc.subnets == SUBNETS  # type: ignore[union-attr]


def test_secrets_manager_json_document(moto: None, region: None, clock: Clock) -> None:
    document = {
        "vpc": {"subnets": list(OTHER_SUBNETS), "security_group_ids": list(GROUPS)},
        "iam": {"data_access_roles": list(ROLES)},
    }
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="comprehend/posture", SecretString=json.dumps(document))
    posture = sc.load_posture("secretsmanager:comprehend/posture")
    assert posture.vpc is not None
    assert posture.vpc.subnets == OTHER_SUBNETS
    assert posture.kms is None


def put_in_bucket(body: bytes | None = None, key: str = "comprehend.toml") -> dict[str, Any]:
    """The object ``key`` (the posture by default) in moto's bucket org-postures."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="org-postures")
    body = posture_toml().encode() if body is None else body
    return dict(s3.put_object(Bucket="org-postures", Key=key, Body=body))


def test_s3_object_with_its_etag(moto: None, region: None, clock: Clock) -> None:
    put = put_in_bucket()
    posture = sc.load_posture("s3://org-postures/comprehend.toml")
    origin = _origin(posture)
    assert origin.source == "s3://org-postures/comprehend.toml"
    assert origin.version == put["ETag"].strip('"')  # the ETag without its quotes
    assert origin.region == REGION


def _s3_requests(session: boto3.Session, owner: str | None = None) -> list[Any]:
    """The session's S3 and STS requests, as botocore sends them; with ``owner``, S3's
    answer to a GetObject that expects another owner than the bucket's, a 403."""
    from botocore.awsrequest import AWSResponse

    sent: list[Any] = []

    def record(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        sent.append(request)
        expected = request.headers.get("x-amz-expected-bucket-owner")
        if owner is None or "GetObject" not in event_name or expected == owner.encode():
            return None
        body = b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return AWSResponse(request.url, 403, {}, _Raw(body))

    session.events.register("before-send.s3", record)
    session.events.register("before-send.sts", record)
    return sent


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfem\x00", "posture source s3://org-postures/p.toml is not UTF-8 text"),
        (b'{"mode": ' + b"1" * 5000 + b"}", "is not valid JSON: a number too long to read"),
        (b"iam" + b".x" * 1000 + b" = 1", "posture source s3://org-postures/p.toml is nested"),
    ],
    ids=["not UTF-8", "huge number", "dotted keys"],
)
def test_a_document_python_cannot_read_names_the_source_as_written(
    body: bytes, message: str, moto: None, region: None, clock: Clock
) -> None:
    put_in_bucket(body, "p.toml")
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture("s3://org-postures/p.toml")
    assert message in str(refused.value)
    assert "?owner=" not in str(refused.value)  # the owner asked of STS is not the source


def test_s3_expects_the_readers_own_account_as_the_buckets_owner(
    moto: None, region: None, clock: Clock
) -> None:
    """Bucket names are global: a deleted bucket's name can be taken by anyone."""
    put_in_bucket()
    session = boto3.Session(region_name=REGION)
    sent = _s3_requests(session)
    sc.load_posture("s3://org-postures/comprehend.toml", session=session)
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    get = [r for r in sent if r.method == "GET" and "comprehend.toml" in r.url]
    assert [r.headers["x-amz-expected-bucket-owner"] for r in get] == [account.encode()]


def test_s3_expects_the_owner_the_source_names_and_asks_sts_nothing(
    moto: None, region: None, clock: Clock
) -> None:
    put_in_bucket()
    session = boto3.Session(region_name=REGION)
    sent = _s3_requests(session)
    source = "s3://org-postures/comprehend.toml?owner=444455556666"
    posture = sc.load_posture(source, session=session)
    assert [r.headers["x-amz-expected-bucket-owner"] for r in sent] == [b"444455556666"]
    assert _origin(posture).source == source


def test_a_bucket_of_another_owner_is_refused(moto: None, region: None, clock: Clock) -> None:
    """The name was taken by a stranger: S3 answers 403, and nothing is loaded."""
    put_in_bucket(posture_toml(mode="audit").encode())
    session = boto3.Session(region_name=REGION)
    _s3_requests(session, owner="999988887777")  # the stranger's bucket, as S3 sees it
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture("s3://org-postures/comprehend.toml", session=session)
    message = str(refused.value)
    assert "s3://org-postures/comprehend.toml" in message
    assert "AccessDenied" in message and "owner is not 123456789012" in message


def test_no_account_from_sts_is_a_posture_error_naming_the_owner_form(
    region: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session = boto3.Session(region_name=REGION)

    def unreachable(request: Any, **_: Any) -> None:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url=request.url)

    session.events.register("before-send.sts", unreachable)
    session.events.register("before-send.s3", unreachable)  # never the network
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture("s3://org-postures/comprehend.toml", session=session)
    message = str(refused.value)
    assert "bucket names are global" in message
    assert "s3://org-postures/comprehend.toml?owner=ACCOUNT" in message


def _origin(posture: sc.Posture) -> Any:
    from secure_comprehend.posture.origin import origin_of

    origin = origin_of(posture)
    assert origin is not None
    return origin


class FakeAppConfig:
    """AppConfig's data plane on the wire: sessions, tokens, empty answers when unchanged."""

    def __init__(self, document: str, version: str = "1") -> None:
        self.document, self.version = document.encode(), version
        self.sent_version: dict[str, str] = {}  # token -> version the client already has
        self.calls: list[str] = []
        self.sessions = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        from urllib.parse import parse_qs, urlsplit

        from botocore.awsrequest import AWSResponse

        url = urlsplit(request.url)
        if url.path == "/configurationsessions":
            self.calls.append("StartConfigurationSession")
            self.sessions += 1
            started = json.loads(request.body)
            assert (
                started["ApplicationIdentifier"],
                started["EnvironmentIdentifier"],
                started["ConfigurationProfileIdentifier"],
            ) == ("ml-platform", "prod", "comprehend-posture")
            token = f"token-{self.sessions}-0"
            return AWSResponse(
                request.url, 201, {}, _Raw(json.dumps({"InitialConfigurationToken": token}))
            )
        self.calls.append("GetLatestConfiguration")
        token = parse_qs(url.query)["configuration_token"][0]
        if token == "expired":
            return AWSResponse(
                request.url,
                400,
                {"x-amzn-ErrorType": "BadRequestException"},
                _Raw(json.dumps({"Message": "token expired"})),
            )
        session, count = token.split("-")[1:]
        next_token = f"token-{session}-{int(count) + 1}"
        unchanged = self.sent_version.get(token) == self.version
        self.sent_version[next_token] = self.version
        headers = {
            "Next-Poll-Configuration-Token": next_token,
            "Version-Label": self.version,
            "Content-Type": "application/toml",
        }
        return AWSResponse(request.url, 200, headers, _Raw(b"" if unchanged else self.document))


class _Raw:
    def __init__(self, data: str | bytes) -> None:
        self.data = data.encode() if isinstance(data, str) else data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data

    def read(self, *_: Any, **__: Any) -> bytes:
        data, self.data = self.data, b""
        return data


def appconfig_session(fake: FakeAppConfig) -> boto3.Session:
    session = boto3.Session(region_name=REGION)
    session.events.register_first("before-send.appconfigdata", fake)
    return session


def test_appconfig_polls_with_its_tokens_and_keeps_the_unchanged_document(clock: Clock) -> None:
    fake = FakeAppConfig(posture_toml())
    session = appconfig_session(fake)
    source = "appconfig:ml-platform/prod/comprehend-posture"
    first = sc.load_posture(source, session=session)
    assert first.vpc is not None
    assert first.vpc.subnets == SUBNETS
    clock.now += 301  # the TTL ends: AppConfig answers "unchanged" with an empty body
    again = sc.load_posture(source, session=session)
    assert again.vpc == first.vpc
    assert _origin(again).version == "1"
    fake.document, fake.version = posture_toml(OTHER_SUBNETS).encode(), "2"
    clock.now += 301
    changed = sc.load_posture(source, session=session)
    assert changed.vpc is not None
    assert changed.vpc.subnets == OTHER_SUBNETS
    assert fake.calls == [
        "StartConfigurationSession",
        "GetLatestConfiguration",
        "GetLatestConfiguration",
        "GetLatestConfiguration",
    ]


def test_appconfig_starts_a_new_session_when_its_token_expired(clock: Clock) -> None:
    fake = FakeAppConfig(posture_toml())
    session = appconfig_session(fake)
    source = "appconfig:ml-platform/prod/comprehend-posture"
    sc.load_posture(source, session=session)
    live = next(iter(_live._SOURCES.values()))
    live._appconfig.token = "expired"  # as AppConfig refuses a token older than 24 hours
    clock.now += 301
    assert sc.load_posture(source, session=session).vpc is not None
    assert fake.sessions == 2


def test_a_missing_parameter_names_the_source(moto: None, region: None, clock: Clock) -> None:
    with pytest.raises(sc.PostureError, match=r"ssm:/org/missing \(us-east-1\).*ParameterNotFound"):
        sc.load_posture("ssm:/org/missing")


def test_no_region_says_how_to_give_one(moto: None, clock: Clock) -> None:
    with pytest.raises(sc.PostureError, match="no region to read it from"):
        sc.load_posture(f"ssm:{PARAMETER}")


def test_no_credentials_names_the_source(
    region: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(sc.PostureError, match=f"ssm:{PARAMETER}.*Unable to locate credentials"):
        sc.load_posture(f"ssm:{PARAMETER}")


def test_no_network_names_the_source(
    region: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(sc.PostureError, match=f"ssm:{PARAMETER}.*Could not connect"):
        sc.load_posture(f"ssm:{PARAMETER}")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("ssm://org/posture", "is not a parameter name; the form is ssm:/path/name"),
        ("SSM:/org/posture", "did you mean ssm:/path/name"),
        ("secretmanager:posture", "did you mean secretsmanager:NAME"),
        ("s3:/bucket/key", "must start with s3://"),
        ("S3://bucket/key", "did you mean s3://BUCKET/KEY"),
        ("s3://bucket", "does not name a bucket and a key"),
        ("s3://Bad_Bucket/key", "does not name a bucket and a key"),
        ("s3://bucket/key?owner=1234", "owner must be a 12-digit account ID, not '1234'"),
        ("s3://bucket/key?owner=", "owner must be a 12-digit account ID, not ''"),
        ("s3://bucket?owner=123456789012", "does not name a bucket and a key"),
        ("s3://bucket/key?OWNER=123456789012", "'?OWNER=' is not a query it takes"),
        ("s3://bucket/key?versionId=3", "'?versionId=' is not a query it takes"),
        ("s3://bucket/key\n?owner=123456789012", "control or invisible character '\\n'"),
        ("s3://bucket/k\u200bey", "control or invisible character '\\u200b'"),
        ("ssm:/org/po\tsture", "control or invisible character '\\t'"),
        ("appconfig:app/env", "does not name an application, an environment and a profile"),
        ("appconfig:app//profile", "does not name an application"),
        ("appconfig:app/env/profile/extra", "does not name an application"),
        ("ssm:/org/posture\n", "trailing whitespace"),
        (" ssm:/org/posture", None),  # a leading space: a file name, which does not exist
        ("ssm:", "is not a parameter name"),
        ("ssm:/org/pos ture", "is not a parameter name"),
        ("secretsmanager:", "is not a secret name"),
        ("ssm:arn:aws:secretsmanager:us-east-1:123456789012:secret:x", "is an ARN of"),
        ("ssm:arn:aws:ssm:us-east-1:123456789012:document/x", "is not a parameter ARN"),
    ],
)
def test_a_malformed_source_is_refused_and_never_read_as_a_file(
    source: str, message: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", source)
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture()
    assert repr(source) in str(refused.value)
    assert "environment variable SECURE_COMPREHEND_CONFIG" in str(refused.value)
    assert message is None or message in str(refused.value), str(refused.value)


def test_a_path_object_is_a_file_whatever_its_name(tmp_path: Any) -> None:
    from pathlib import Path

    with pytest.raises(sc.PostureError, match="does not exist"):
        sc.load_posture(Path("ssm:/org/posture"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("  \n", "is empty"),
        ("\ufeffmode = 'audit'", "byte-order mark"),
        ("{not json", "is not valid JSON"),
        ('{"mode": "audit", "mode": "enforce"}', "is not valid JSON"),
        ("[1, 2]", "is not valid TOML"),
        ("mode = ", "is not valid TOML"),
        ('{"vpc": {"subnet": ["subnet-0123456789abcdef0"]}}', "vpc.subnet"),
    ],
)
def test_a_bad_document_names_the_source(ssm: Any, text: str, message: str, clock: Clock) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=text or " ", Overwrite=True)
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture(f"ssm:{PARAMETER}")
    assert message in str(refused.value)
    assert f"ssm:{PARAMETER}" in str(refused.value)


def test_an_unreadable_appconfig_version_is_not_taken_for_unchanged(clock: Clock) -> None:
    fake = FakeAppConfig(posture_toml())
    session = appconfig_session(fake)
    source = "appconfig:ml-platform/prod/comprehend-posture"
    sc.load_posture(source, session=session)
    fake.document, fake.version = b"mode = ", "2"  # not TOML
    clock.now += 301
    sc.load_posture(source, session=session)  # the last good one, with a WARNING
    for _ in range(10):  # every later poll still sees version 2, not "unchanged"
        clock.now += 31
        if clock.now - 1000 >= 600:
            break
        sc.load_posture(source, session=session)
    clock.now = 1000 + 601
    with pytest.raises(sc.PostureError, match="is not valid TOML"):
        sc.load_posture(source, session=session)


def test_the_clients_region_reads_the_source(
    moto: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_keys = posture_toml().split("[kms]")[0] + f"[iam]\ndata_access_roles = {json.dumps(ROLES)}"
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name=PARAMETER, Value=no_keys, Type="String"
    )
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", f"ssm:{PARAMETER}")
    client = sc.client("eu-west-1")  # no region configured anywhere else
    assert vpc_of(client) == list(SUBNETS)
    assert sc.protect(boto3.client("comprehend", region_name="eu-west-1"))


@pytest.mark.parametrize("document", ["{}", "# placeholder\n", "\n# todo: fill in\n\n"])
def test_a_placeholder_document_is_refused_even_with_variables(
    ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch, document: str
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=document, Overwrite=True)
    monkeypatch.setenv("SECURE_COMPREHEND_VPC", json.dumps({"subnets": list(SUBNETS)}))
    with pytest.raises(sc.PostureError, match=f"ssm:{PARAMETER}.*configures nothing"):
        sc.load_posture(f"ssm:{PARAMETER}")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (" ssm:/org/posture", "leading or trailing whitespace"),
        ("\nssm:/org/posture", "leading or trailing whitespace"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter/p", "ssm:arn:aws:ssm:us-east-1"),
    ],
)
def test_near_sources_are_not_read_as_files(source: str, message: str) -> None:
    with pytest.raises(sc.PostureError, match=message):
        sc.load_posture(source)


def test_a_session_that_is_not_boto3_s_is_a_type_error(clock: Clock) -> None:
    import botocore.session

    with pytest.raises(TypeError, match=r"session must be a boto3.Session .*botocore.session"):
        sc.load_posture(f"ssm:{PARAMETER}", session=botocore.session.get_session())  # type: ignore[arg-type]


def test_a_document_that_configures_nothing_is_credited_to_the_source(
    ssm: Any, clock: Clock
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value='mode = "audit"', Overwrite=True)
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture(f"ssm:{PARAMETER}")
    assert f"from ssm:{PARAMETER} (us-east-1, version 2)" in str(refused.value)
    assert "from defaults" not in str(refused.value)


def test_an_emptied_appconfig_deployment_is_a_failed_refresh(clock: Clock) -> None:
    fake = FakeAppConfig(posture_toml())
    session = appconfig_session(fake)
    source = "appconfig:ml-platform/prod/comprehend-posture"
    first = sc.load_posture(source, session=session)
    fake.document, fake.version = b"", "2"  # a new deployment of an empty configuration
    clock.now += 301
    assert sc.load_posture(source, session=session) == first  # kept, for twice the TTL
    assert _origin(sc.load_posture(source, session=session)).version == "1"
    clock.now += 300
    with pytest.raises(sc.PostureError, match="is empty: it configures nothing"):
        sc.load_posture(source, session=session)  # never renewed: refused
