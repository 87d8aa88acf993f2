"""Fleet posture sources: SSM, Secrets Manager, AppConfig and S3, cached with a TTL.

SSM, Secrets Manager and S3 are moto's; AppConfig's data plane (which moto does
not implement) is a fake answering botocore's real requests on the wire.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import secure_comprehend as sc
from secure_comprehend.posture.fleet import cache as _live
from tests.conftest import GROUPS, KEYS, REGION, ROLES, SUBNETS, make_posture

OTHER_SUBNETS = ("subnet-0aaaaaaaaaaaaaaa0",)
PARAMETER = "/org/comprehend/posture"


def posture_toml(subnets: tuple[str, ...] = SUBNETS, mode: str = "enforce") -> str:
    return f"""
mode = "{mode}"
[vpc]
subnets = {json.dumps(list(subnets))}
security_group_ids = {json.dumps(list(GROUPS))}
[kms]
volume_key = "{KEYS["volume_key"]}"
output_key = "{KEYS["output_key"]}"
model_key = "{KEYS["model_key"]}"
data_lake_key = "{KEYS["data_lake_key"]}"
[iam]
data_access_roles = {json.dumps(list(ROLES))}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    clock = Clock()
    monkeypatch.setattr(_live, "_now", clock)
    sc.clear_posture_cache()
    yield clock
    sc.clear_posture_cache()


@pytest.fixture
def region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def ssm(moto: None, region: None, clock: Clock) -> Any:
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(), Type="SecureString")
    return ssm


def start_job(client: Any, **params: Any) -> dict[str, Any]:
    """Start a job with business parameters (and ``params``); what Comprehend recorded."""
    job = client.start_entities_detection_job(
        InputDataConfig={"S3Uri": "s3://in/docs/"},
        OutputDataConfig={"S3Uri": "s3://out/"},
        LanguageCode="en",
        **params,
    )
    described = client.describe_entities_detection_job(JobId=job["JobId"])
    return dict(described["EntitiesDetectionJobProperties"])


def vpc_of(client: Any) -> list[str]:
    return list(start_job(client)["VpcConfig"]["Subnets"])


# --- reading each kind of source ---------------------------------------------------


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


# --- the cache: once per process, refreshed after the TTL -------------------------


def test_read_once_per_process_until_the_ttl(ssm: Any, clock: Clock) -> None:
    calls = _count_calls("GetParameter")
    first = sc.load_posture(f"ssm:{PARAMETER}")
    clock.now += 299
    assert sc.load_posture(f"ssm:{PARAMETER}") is first
    assert calls == ["GetParameter"]
    clock.now += 2
    sc.load_posture(f"ssm:{PARAMETER}")
    assert calls == ["GetParameter", "GetParameter"]


def _count_calls(operation: str) -> list[str]:
    calls: list[str] = []
    session = boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    assert session is not None

    def count(model: Any, **_: Any) -> None:
        if model.name == operation:
            calls.append(model.name)

    session.events.register("before-call", count)
    return calls


@pytest.mark.parametrize("value", ["60", "60\n"], ids=["plain", "a trailing newline"])
def test_the_ttl_variable_sets_the_lifetime(
    value: str, ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG_TTL", value)
    sc.clear_posture_cache()
    calls = _count_calls("GetParameter")
    sc.load_posture(f"ssm:{PARAMETER}")
    clock.now += 61
    sc.load_posture(f"ssm:{PARAMETER}")
    assert len(calls) == 2


@pytest.mark.parametrize("value", ["0", "-5", "5m", "", "nan", "inf", "86401"])
def test_a_bad_ttl_is_refused(
    ssm: Any, monkeypatch: pytest.MonkeyPatch, value: str, clock: Clock
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG_TTL", value)
    sc.clear_posture_cache()
    with pytest.raises(sc.PostureError, match=r"SECURE_COMPREHEND_CONFIG_TTL=.*seconds from 1"):
        sc.load_posture(f"ssm:{PARAMETER}")


def test_a_protected_client_follows_a_changed_posture_after_the_ttl(ssm: Any, clock: Clock) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    assert vpc_of(client) == list(SUBNETS)
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    assert vpc_of(client) == list(SUBNETS)  # within the TTL: the cached posture
    clock.now += 301
    assert vpc_of(client) == list(OTHER_SUBNETS)  # the same client, the new posture
    with pytest.raises(sc.PostureViolation, match="subnet-0123456789abcdef0"):
        client.start_entities_detection_job(
            InputDataConfig={"S3Uri": "s3://in/docs/"},
            OutputDataConfig={"S3Uri": "s3://out/"},
            LanguageCode="en",
            VpcConfig={"Subnets": [SUBNETS[0]], "SecurityGroupIds": list(GROUPS)},
        )


def test_patch_follows_the_fleet_posture(ssm: Any, clock: Clock) -> None:
    sc.patch(sc.load_posture(f"ssm:{PARAMETER}"))
    try:
        client = boto3.client("comprehend", region_name=REGION)
        assert vpc_of(client) == list(SUBNETS)
        ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
        clock.now += 301
        assert vpc_of(client) == list(OTHER_SUBNETS)
    finally:
        sc.unpatch()


def test_clear_posture_cache_reads_the_source_again(ssm: Any, clock: Clock) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    sc.clear_posture_cache()
    assert sc.load_posture(f"ssm:{PARAMETER}").vpc.subnets == OTHER_SUBNETS  # type: ignore[union-attr]
    assert vpc_of(client) == list(OTHER_SUBNETS)  # clients follow it at their next call


def test_many_threads_at_the_end_of_the_ttl_fetch_once(ssm: Any, clock: Clock) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    calls = _count_calls("GetParameter")
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    clock.now += 301
    seen: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            seen.append(vpc_of(client))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # the thread that fetched got the new posture; others, while it fetched, the last good
    assert list(OTHER_SUBNETS) in seen
    assert all(s in (list(SUBNETS), list(OTHER_SUBNETS)) for s in seen)
    assert len(seen) == 8
    assert calls == ["GetParameter"]
    assert vpc_of(client) == list(OTHER_SUBNETS)


# --- refresh failures: the last good posture for at most twice the TTL ------------


def test_a_failed_refresh_keeps_the_last_good_posture_then_fails_closed(
    ssm: Any, clock: Clock, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.delete_parameter(Name=PARAMETER)
    clock.now += 301
    assert vpc_of(client) == list(SUBNETS)  # kept, and said so
    warnings = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"ssm:{PARAMETER}: refresh failed" in warnings[0].getMessage()
    assert "ParameterNotFound" in warnings[0].getMessage()
    assert warnings[0].posture_source == f"ssm:{PARAMETER}"  # type: ignore[attr-defined]
    clock.now += 300  # 601 s after the last good fetch: over twice the TTL
    with pytest.raises(sc.PostureViolation) as refused:
        start_job(client)
    assert f"ssm:{PARAMETER}" in str(refused.value)
    assert "refused until a fetch succeeds" in str(refused.value)
    assert [v.path for v in refused.value.violations] == ["(posture)"]
    # operations without security members are not posture's business
    client.list_entities_detection_jobs()
    with pytest.raises(sc.PostureError, match="refused until a fetch succeeds"):
        sc.load_posture(f"ssm:{PARAMETER}")
    # the store is back: the next call after the retry pause fetches and follows it
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Type="SecureString")
    clock.now += 31
    assert vpc_of(client) == list(OTHER_SUBNETS)


def test_an_invalid_new_version_is_a_refresh_failure(
    ssm: Any, clock: Clock, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    typo = posture_toml().replace("subnets =", "subnet =")
    ssm.put_parameter(Name=PARAMETER, Value=typo, Overwrite=True)
    clock.now += 301
    assert vpc_of(client) == list(SUBNETS)
    assert any(
        "subnet" in r.getMessage() and "refresh failed" in r.getMessage() for r in sc_logs.records
    )
    clock.now += 300
    with pytest.raises(sc.PostureViolation):
        start_job(client)


def test_an_audit_posture_that_can_no_longer_be_had_refuses_too(ssm: Any, clock: Clock) -> None:
    # the stale posture's mode is stale too: an administrator may have turned on enforce
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(mode="audit"), Overwrite=True)
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.delete_parameter(Name=PARAMETER)
    clock.now += 601
    with pytest.raises(sc.PostureViolation, match="refused until a fetch succeeds"):
        start_job(client)


def test_failed_refreshes_are_retried_at_most_every_30_seconds(ssm: Any, clock: Clock) -> None:
    sc.load_posture(f"ssm:{PARAMETER}")
    ssm.delete_parameter(Name=PARAMETER)
    calls = _count_calls("GetParameter")
    clock.now += 301
    for _ in range(5):
        sc.load_posture(f"ssm:{PARAMETER}")
    assert len(calls) == 1
    clock.now += 30
    sc.load_posture(f"ssm:{PARAMETER}")
    assert len(calls) == 2


# --- first fetches that fail, and malformed sources --------------------------------


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


def test_environment_variables_apply_over_the_fleet_document(
    ssm: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    posture = sc.load_posture(f"ssm:{PARAMETER}")
    assert posture.mode == "audit"
    text = str(posture)
    assert "environment variable SECURE_COMPREHEND_MODE" in text
    assert f"ssm:{PARAMETER} (us-east-1, version 1)" in text
    assert f"loaded from ssm:{PARAMETER} in us-east-1, version 1, read at" in text


def test_a_misspelt_ttl_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG_TLL", "60")
    with pytest.raises(sc.PostureError, match="did you mean SECURE_COMPREHEND_CONFIG_TTL"):
        sc.load_posture()


# --- show and doctor say where the posture came from --------------------------------


def test_show_says_source_version_and_when(ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    assert main(["show", "--config", f"ssm:{PARAMETER}", "--region", REGION, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["origin"]["source"] == f"ssm:{PARAMETER}"
    assert report["origin"]["version"] == "2"
    assert report["origin"]["region"] == REGION
    assert report["origin"]["fetched_at"].endswith("+00:00")
    assert report["vpc"]["subnets"]["source"] == f"ssm:{PARAMETER} ({REGION}, version 2)"
    assert main(["show", "--config", f"ssm:{PARAMETER}"]) == 0
    assert f"loaded from ssm:{PARAMETER} in {REGION}, version 2, read at" in capsys.readouterr().out


def test_doctor_says_where_the_posture_came_from(
    ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    main(["doctor", "--config", f"ssm:{PARAMETER}", "--region", REGION])
    assert f"posture loaded from ssm:{PARAMETER} in {REGION}, version 1" in capsys.readouterr().out
    main(["doctor", "--config", f"ssm:{PARAMETER}", "--region", REGION, "--json"])
    assert json.loads(capsys.readouterr().out)["origin"]["version"] == "1"


def test_a_file_posture_says_its_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    (tmp_path / "p.toml").write_text(posture_toml())
    assert main(["show", "--config", str(tmp_path / "p.toml"), "--json"]) == 0
    origin = json.loads(capsys.readouterr().out)["origin"]
    assert origin["source"] == f"file {tmp_path / 'p.toml'}"
    assert origin["version"] is None


def test_show_with_a_misspelt_region_reads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    assert main(["show", "--config", f"ssm:{PARAMETER}", "--region", "us-eest-1"]) == 2
    assert "--region: 'us-eest-1' is not an AWS region" in capsys.readouterr().err


# --- the reader's IAM policy --------------------------------------------------------

READER_CASES = [
    (
        f"ssm:{PARAMETER}",
        ["ssm:GetParameter"],
        f"arn:aws:ssm:us-east-1:*:parameter{PARAMETER}",
    ),
    (
        f"ssm:{PARAMETER}:3",  # a version selector reads the same parameter
        ["ssm:GetParameter"],
        f"arn:aws:ssm:us-east-1:*:parameter{PARAMETER}",
    ),
    (
        "ssm:arn:aws-cn:ssm:cn-north-1:123456789012:parameter/org/posture",
        ["ssm:GetParameter"],
        "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/org/posture",
    ),
    (
        "secretsmanager:comprehend/posture",
        ["secretsmanager:GetSecretValue"],
        "arn:aws:secretsmanager:us-east-1:*:secret:comprehend/posture-??????",
    ),
    (
        "appconfig:abc1234/def5678/ghi9012",
        ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
        "arn:aws:appconfig:us-east-1:*:application/abc1234"
        "/environment/def5678/configuration/ghi9012",
    ),
    (
        "s3://org-postures/comprehend.toml",
        ["s3:GetObject"],
        "arn:aws:s3:::org-postures/comprehend.toml",
    ),
    (
        "s3://org-postures/comprehend.toml?owner=444455556666",
        ["s3:GetObject"],
        "arn:aws:s3:::org-postures/comprehend.toml",
    ),
]
# the account each document must be in: a name's and a bucket's is the reader's own,
# unless the bucket's owner is named; an ARN names its account
OWNERS = {
    "s3://org-postures/comprehend.toml?owner=444455556666": "444455556666",
    "s3://org-postures/comprehend.toml": "${aws:PrincipalAccount}",
}


@pytest.mark.parametrize(("source", "actions", "resource"), READER_CASES)
def test_the_reader_policy_reads_the_one_document(
    source: str, actions: list[str], resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import parliament

    from secure_comprehend.cli import main

    assert main(["policy", "--kind", "posture-reader", "--config", source, "--region", REGION]) == 0
    out = capsys.readouterr()
    document = json.loads(out.out)
    read, *decrypt = document["Statement"]
    mine = ":*:" in resource and not source.startswith("appconfig")
    owner = OWNERS.get(source, "${aws:PrincipalAccount}" if mine else None)
    own = {"StringEquals": {"aws:ResourceAccount": owner}} if owner else None
    assert read.pop("Condition", None) == own
    assert read == {
        "Sid": "ReadPosture",
        "Effect": "Allow",
        "Action": actions,
        "Resource": resource,
    }
    for statement in decrypt:  # only through the store, only for this document
        assert statement["Action"] == "kms:Decrypt"
        context = {k: v for c in statement["Condition"].values() for k, v in c.items()}
        assert context["kms:ViaService"].startswith(source.split(":")[0].rstrip("/"))
        assert resource in json.dumps(context) or resource.rsplit(":", 1)[0] in json.dumps(context)
    # nothing that writes, lists or reads anything else
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    assert not [a for s in document["Statement"] for a in [s["Action"]] if "*" in str(a)]
    findings = parliament.analyze_policy_string(out.out).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_the_reader_policy_needs_a_fleet_source(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    assert main(["policy", "--kind", "posture-reader", "--config", "posture.toml"]) == 2
    assert "needs a fleet source" in capsys.readouterr().err


def test_the_reader_policy_reads_the_config_variable_without_fetching(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", "secretsmanager:posture")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # a fetch would fail
    assert main(["policy", "--kind", "posture-reader"]) == 0
    document = json.loads(capsys.readouterr().out)
    # no --region: the copy of every region, under the same name
    assert document["Statement"][0]["Resource"].startswith("arn:aws:secretsmanager:*:")
    via = document["Statement"][1]["Condition"]["StringLike"]["kms:ViaService"]
    assert via == "secretsmanager.*.amazonaws.com"


# --- what a stranger's attack found -------------------------------------------------


def test_two_accounts_never_share_a_cached_posture(ssm: Any, clock: Clock) -> None:
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(
        RoleArn="arn:aws:iam::222222222222:role/Reader", RoleSessionName="reader-b"
    )["Credentials"]
    other = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    other.client("ssm").put_parameter(
        Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS, mode="audit"), Type="String"
    )
    theirs = sc.load_posture(f"ssm:{PARAMETER}", session=other)
    ours = sc.load_posture(f"ssm:{PARAMETER}")
    assert (theirs.mode, theirs.vpc.subnets) == ("audit", OTHER_SUBNETS)  # type: ignore[union-attr]
    assert (ours.mode, ours.vpc.subnets) == ("enforce", SUBNETS)  # type: ignore[union-attr]


def test_variables_apply_over_the_cached_document_at_each_load(
    ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", f"ssm:{PARAMETER}")
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    client = sc.client()
    assert sc.load_posture().mode == "audit"
    calls = _count_calls("GetParameter")
    monkeypatch.delenv("SECURE_COMPREHEND_MODE")
    assert sc.load_posture().mode == "enforce"  # within the TTL, without a fetch
    assert calls == []
    with pytest.raises(sc.PostureViolation):  # the earlier client follows at its next call
        client.start_entities_detection_job(
            InputDataConfig={"S3Uri": "s3://in/docs/"},
            OutputDataConfig={"S3Uri": "s3://out/"},
            LanguageCode="en",
            VpcConfig={"Subnets": list(OTHER_SUBNETS), "SecurityGroupIds": list(GROUPS)},
        )


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


def test_a_document_nested_too_deeply_is_a_failed_refresh_not_a_crash(
    ssm: Any, clock: Clock, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    deep = "a = " + "[" * 2000 + "]" * 2000
    ssm.put_parameter(Name=PARAMETER, Value=deep, Overwrite=True)
    clock.now += 301
    client.detect_sentiment(Text="fine", LanguageCode="en")  # the refresh fails here: no crash
    assert vpc_of(client) == list(SUBNETS)
    assert any("nested too deeply" in r.getMessage() for r in sc_logs.records)
    sc.clear_posture_cache()
    with pytest.raises(sc.PostureError, match=f"ssm:{PARAMETER} is nested too deeply"):
        sc.load_posture(f"ssm:{PARAMETER}")


def test_a_reader_that_raises_anything_is_a_failed_refresh(
    ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secure_comprehend.posture.fleet import read as _fleet

    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))

    def broken(*_: Any) -> Any:
        raise KeyError("Parameter")  # a proxy's answer that is not SSM's shape

    monkeypatch.setitem(_fleet._READERS, "ssm", broken)
    clock.now += 301
    assert vpc_of(client) == list(SUBNETS)
    client.detect_sentiment(Text="fine", LanguageCode="en")
    clock.now += 300
    with pytest.raises(sc.PostureViolation, match="KeyError"):
        start_job(client)
    client.detect_sentiment(Text="still fine", LanguageCode="en")


def test_while_one_thread_refreshes_others_get_the_last_good_posture(
    ssm: Any, clock: Clock
) -> None:
    first = sc.load_posture(f"ssm:{PARAMETER}")
    live = next(iter(_live._SOURCES.values()))
    clock.now += 301
    with live._lock:  # a refresh in progress, on a slow store
        assert sc.load_posture(f"ssm:{PARAMETER}") is first  # served, not waiting
        clock.now += 300  # beyond twice the TTL: waiting is the only safe answer
        waited = threading.Thread(target=sc.load_posture, args=(f"ssm:{PARAMETER}",))
        waited.start()
        waited.join(timeout=0.5)
        assert waited.is_alive()
    waited.join()


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


def test_the_reader_policy_reads_wildcard_characters_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from secure_comprehend.cli import main

    main(["policy", "--kind", "posture-reader", "--config", "s3://org-postures/k*ey?$"])
    resource = json.loads(capsys.readouterr().out)["Statement"][0]["Resource"]
    assert resource == "arn:aws:s3:::org-postures/k${*}ey${?}${$}"
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:posture"
    main(["policy", "--kind", "posture-reader", "--config", f"secretsmanager:{arn}"])
    assert json.loads(capsys.readouterr().out)["Statement"][0]["Resource"] == f"{arn}-??????"


def test_a_store_that_is_down_gets_two_attempts(
    region: None, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # refused at once
    session = boto3.Session(region_name=REGION)
    attempts: list[str] = []
    session.events.register("before-send.ssm", lambda **_: attempts.append("GetParameter"))
    with pytest.raises(sc.PostureError, match="Could not connect"):
        sc.load_posture(f"ssm:{PARAMETER}", session=session)
    assert attempts == ["GetParameter", "GetParameter"]


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


def test_the_demo_takes_a_file_not_a_fleet_source(capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli.demo import run

    assert run(f"ssm:{PARAMETER}") == 2
    assert "demo --config takes a posture file" in capsys.readouterr().err


def test_the_reader_policy_reads_the_config_variable_in_any_case(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    monkeypatch.setenv("secure_comprehend_config", f"ssm:{PARAMETER}")  # as load_posture reads it
    assert main(["policy", "--kind", "posture-reader", "--region", REGION]) == 0
    assert PARAMETER in json.loads(capsys.readouterr().out)["Statement"][0]["Resource"]


def test_rotating_credentials_keep_the_cache_bounded(
    ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each access key is a cache entry (accounts never share a posture); a long-lived
    process whose credentials rotate hourly must not keep every one of them."""
    monkeypatch.setattr(_live, "_SOURCES_MAX", 4)  # 64 in a process
    sessions = [
        boto3.Session(
            aws_access_key_id=f"AKIAROTATED{i:04d}",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        for i in range(_live._SOURCES_MAX + 6)
    ]
    first = sc.load_posture(f"ssm:{PARAMETER}", session=sessions[0])
    client = sc.client(posture=first)
    for session in sessions[1:]:
        sc.load_posture(f"ssm:{PARAMETER}", session=session)
    assert len(_live._SOURCES) == _live._SOURCES_MAX
    assert start_job(client)["VpcConfig"]["Subnets"] == list(SUBNETS)  # still following


class HeldStore:
    """A store read that waits, on the session's real GetParameter, until released."""

    def __init__(self, session: boto3.Session) -> None:
        self.reading, self.release, self.done = (threading.Event() for _ in range(3))
        session.events.register("before-send.ssm.GetParameter", self.hold)

    def hold(self, **_: Any) -> None:
        self.reading.set()
        self.release.wait(10)
        self.done.set()


def _in_thread(call: Any) -> threading.Thread:
    thread = threading.Thread(target=lambda: _quietly(call), daemon=True)
    thread.start()
    return thread


def _quietly(call: Any) -> None:
    with contextlib.suppress(sc.PostureViolation):
        call()


BAD_VPC = {"Subnets": list(OTHER_SUBNETS), "SecurityGroupIds": list(GROUPS)}


def test_protect_during_a_refresh_is_not_undone_by_it(ssm: Any, clock: Clock) -> None:
    """The refresh began for the fleet source; protect() gave the client another posture
    meanwhile: that one stands, and the refresh's result is dropped."""
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(mode="audit"), Overwrite=True)
    session = boto3.Session(region_name=REGION)
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}", session=session))
    store = HeldStore(session)
    clock.now += 301
    refreshing = _in_thread(lambda: start_job(client))
    assert store.reading.wait(10)
    sc.protect(client, posture=make_posture())  # enforce, not following any source
    store.release.set()
    refreshing.join(10)
    with pytest.raises(sc.PostureViolation):
        start_job(client, VpcConfig=BAD_VPC)


def test_past_twice_the_ttl_calls_are_refused_at_once_while_one_reads(
    ssm: Any, clock: Clock
) -> None:
    """Only the thread that reads the store waits on it; the others are refused at once,
    and operations without security members are not touched."""
    session = boto3.Session(region_name=REGION)
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}", session=session))
    store = HeldStore(session)
    clock.now += 601  # past twice the TTL: no good posture to serve
    reader = _in_thread(lambda: start_job(client))
    assert store.reading.wait(10)
    with pytest.raises(sc.PostureViolation, match="refused until a fetch succeeds"):
        start_job(client)
    client.list_entities_detection_jobs()  # uncovered: no read, no wait, no refusal
    assert not store.done.is_set()  # neither call waited for the store
    store.release.set()
    reader.join(10)


def test_after_the_cache_is_cleared_a_store_that_is_down_is_read_once_per_pause(
    ssm: Any, clock: Clock
) -> None:
    client = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.delete_parameter(Name=PARAMETER)
    sc.clear_posture_cache()
    calls = _count_calls("GetParameter")
    for _ in range(5):
        with pytest.raises(sc.PostureViolation, match="ParameterNotFound"):
            start_job(client)
    assert len(calls) == 1
    clock.now += 30  # the retry pause: one more read
    with pytest.raises(sc.PostureViolation):
        start_job(client)
    assert len(calls) == 2
