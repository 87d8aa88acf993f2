"""aiobotocore: protect() and sc.aio_client() enforce the same posture through its event system.

Every request goes over HTTP to moto's ThreadedMotoServer on 127.0.0.1; what
reached Comprehend is what moto recorded. Each test runs its coroutine with
asyncio.run(): no event-loop plugin is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import boto3
import pytest
from conftest import (
    ACCOUNT,
    GROUPS,
    IO,
    KEYS,
    OTHER_KEY,
    OTHER_ROLE,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    VPC,
    AlwaysEqual,
    WireServer,
    cbor_only,
    make_posture,
)
from moto.server import ThreadedMotoServer

import secure_comprehend as sc
from secure_comprehend.guard.enforcement import protect_with

# aiobotocore is the optional extra "aio", in an environment of its own (it pins an older
# botocore): the README's test command runs this file in .venv-aio
_AIO = "aiobotocore is not installed here: the README's test command runs these in .venv-aio"
AioSession = pytest.importorskip("aiobotocore.session", reason=_AIO).AioSession
AioConfig = pytest.importorskip("aiobotocore.config").AioConfig

OP = "StartEntitiesDetectionJob"
BAD_VPC = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
TAGS = [{"Key": "cost-centre", "Value": "ml-42"}]
VERIFY = {"verify": True, "allowed_accounts": [ACCOUNT]}
# a request that goes wrong fails in seconds, not after aiohttp's retried minutes
FAST = AioConfig(connect_timeout=5, read_timeout=10, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


@pytest.fixture
def endpoint(server: str) -> str:
    """The server, with nothing recorded yet."""
    reset = urllib.request.Request(f"{server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    return server


def plain(endpoint: str, region: str = REGION, session: Any = None) -> Any:
    """An unprotected aiobotocore comprehend client (an async context manager)."""
    return (session or AioSession()).create_client(
        "comprehend", region_name=region, endpoint_url=endpoint, config=FAST
    )


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


async def received(client: Any) -> list[dict[str, Any]]:
    """The entity detection jobs Comprehend (moto's server) received, oldest first."""
    listed = await client.list_entities_detection_jobs()
    return list(listed["EntitiesDetectionJobPropertiesList"])


async def start_and_describe(client: Any, **params: Any) -> dict[str, Any]:
    job = await client.start_entities_detection_job(**{**IO, **params})
    described = await client.describe_entities_detection_job(JobId=job["JobId"])
    return dict(described["EntitiesDetectionJobProperties"])


def assert_posture_applied(job: dict[str, Any], vpc: dict[str, Any] = VPC) -> None:
    assert job["VpcConfig"] == vpc
    assert job["VolumeKmsKeyId"] == KEYS["volume_key"]
    assert job["OutputDataConfig"]["KmsKeyId"] == KEYS["output_key"]
    assert job["DataAccessRoleArn"] == ROLES[0]


# protect() on a client aiobotocore made


def test_protect_fills_in_the_posture_on_an_aiobotocore_client(endpoint: str) -> None:
    async def main() -> None:
        async with plain(endpoint) as raw:
            client = sc.protect(raw, make_posture())
            assert client is raw
            output = {"S3Uri": "s3://out/"}
            job = await start_and_describe(client, OutputDataConfig=output)
            assert output == {"S3Uri": "s3://out/"}  # the caller's object is not changed
            assert_posture_applied(job)

    run(main)


def test_a_violating_request_is_refused_before_anything_is_sent(endpoint: str) -> None:
    async def main() -> None:
        async with plain(endpoint) as client:
            sc.protect(client, make_posture())
            with pytest.raises(sc.PostureViolation) as refused:
                await client.start_entities_detection_job(
                    **IO, VpcConfig=BAD_VPC, VolumeKmsKeyId=OTHER_KEY, DataAccessRoleArn=OTHER_ROLE
                )
            assert await received(client) == []
        paths = {v.path for v in refused.value.violations}  # every violation, not the first
        assert paths == {"VpcConfig.Subnets[0]", "VolumeKmsKeyId", "DataAccessRoleArn"}
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"

    run(main)


# The final check: a handler, sync or async, that changes the request after the posture


def drop_vpc(params: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name == OP:
        params.pop("VpcConfig", None)


def bad_subnet_in_body(request: Any, **_: Any) -> None:
    body = json.loads(request.body)
    if "VpcConfig" in body:
        request.body = json.dumps({**body, "VpcConfig": BAD_VPC}).encode()
        request.headers["Content-Length"] = str(len(request.body))


def counted(change: Callable[..., None], calls: list[str], kind: str) -> Callable[..., Any]:
    def sync(**kwargs: Any) -> None:
        calls.append(kwargs["event_name"])
        change(**kwargs)

    async def coroutine(**kwargs: Any) -> None:
        await asyncio.sleep(0)  # another task runs here
        sync(**kwargs)

    return sync if kind == "sync" else coroutine


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("event", "how", "change", "message"),
    [
        ("before-parameter-build", "register_last", drop_vpc, "VpcConfig: missing"),
        ("before-send.*.*", "register_first", bad_subnet_in_body, r"VpcConfig\.Subnets\[0\]"),
        ("before-send.comprehend", "register_last", bad_subnet_in_body, r"VpcConfig\.Subnets"),
    ],
)
def test_a_handler_that_changes_the_request_later_never_gets_it_out(
    endpoint: str, event: str, how: str, change: Callable[..., None], message: str, kind: str
) -> None:
    calls: list[str] = []
    handler = counted(change, calls, kind)

    async def main() -> None:
        async with plain(endpoint) as client:
            sc.protect(client, make_posture())
            getattr(client.meta.events, how)(event, handler)
            with pytest.raises(sc.PostureViolation, match=message):
                await client.start_entities_detection_job(**IO)
            assert calls  # it ran, and changed what the posture had filled in
            assert await received(client) == []
            client.meta.events.unregister(event, handler)
            assert_posture_applied(await start_and_describe(client))

    run(main)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_no_later_before_send_handler_sees_what_an_earlier_one_rewrote(
    endpoint: str, kind: str
) -> None:
    seen: list[bytes] = []

    async def spy(request: Any, **_: Any) -> None:  # a transport would answer here
        seen.append(request.body)

    async def main() -> None:
        async with plain(endpoint) as client:
            client.meta.events.register("before-send", spy)  # before protection
            sc.protect(client, make_posture())
            rewrite = counted(bad_subnet_in_body, [], kind)
            client.meta.events.register("before-send.comprehend", rewrite)  # runs first
            with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets"):
                await client.start_entities_detection_job(**IO)
            assert all(OTHER_SUBNET.encode() not in body for body in seen)
            assert await received(client) == []

    run(main)


@pytest.mark.parametrize("where", ["client", "session"])
def test_the_check_runs_ahead_of_handlers_registered_first_before_protection(
    endpoint: str, where: str
) -> None:
    seen: list[bytes] = []

    async def spy(event_name: str, request: Any = None, **_: Any) -> None:
        if event_name.startswith("before-send."):
            seen.append(request.body)

    async def main() -> None:
        session = AioSession()
        if where == "session":  # copied into every client the session makes
            session.get_component("event_emitter").register_first("*.*.*", spy)
        async with plain(endpoint, session=session) as client:
            if where == "client":
                client.meta.events.register_first("*.*.*", spy)
            sc.protect(client, make_posture())
            client.meta.events.register_last("before-parameter-build", drop_vpc)
            with pytest.raises(sc.PostureViolation, match="VpcConfig"):
                await client.start_entities_detection_job(**IO)
            assert seen == []
            client.meta.events.unregister("before-parameter-build", drop_vpc)
            await client.start_entities_detection_job(**IO)
            assert len(seen) == 1  # a compliant body does reach it

    run(main)


def test_audit_mode_logs_once_and_sends(endpoint: str, sc_logs: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with plain(endpoint) as client:
            sc.protect(client, make_posture("audit"))
            job = await start_and_describe(client, VpcConfig=BAD_VPC)
        assert job["VpcConfig"] == BAD_VPC  # sent as given
        assert job["DataAccessRoleArn"] == ROLES[0]  # what was missing is filled in

    run(main)
    [warning] = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"audit mode, sent anyway: {OP}")
    assert warning.mode == "audit"  # type: ignore[attr-defined]
    assert warning.violations == ["VpcConfig.Subnets[0]"]  # type: ignore[attr-defined]


# sc.aio_client()


class RecordingContext:
    """Wraps the context aiobotocore's create_client returns: was the client closed?"""

    def __init__(self, inner: Any) -> None:
        self.inner, self.exited = inner, False

    async def __aenter__(self) -> Any:
        return await self.inner.__aenter__()

    async def __aexit__(self, *exc: object) -> Any:
        self.exited = True
        return await self.inner.__aexit__(*exc)


def recording_session(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[RecordingContext]]:
    session = AioSession()
    made: list[RecordingContext] = []
    create = session.create_client

    def create_client(*args: Any, **kwargs: Any) -> RecordingContext:
        made.append(RecordingContext(create(*args, **kwargs)))
        return made[-1]

    monkeypatch.setattr(session, "create_client", create_client)
    return session, made


def test_aio_client_is_protected_and_closed_on_leaving(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, made = recording_session(monkeypatch)

    async def main() -> None:
        manager = sc.aio_client(
            REGION, posture=make_posture(), session=session, endpoint_url=endpoint, config=FAST
        )
        async with manager as client:
            assert_posture_applied(await start_and_describe(client))
            with pytest.raises(sc.PostureViolation):
                await client.start_entities_detection_job(**IO, VpcConfig=BAD_VPC)
            assert len(await received(client)) == 1
            assert client.meta.region_name == REGION
            assert not made[0].exited
        assert made[0].exited

    run(main)


def test_aio_client_loads_the_posture_and_composes_with_the_session_s_handlers(
    endpoint: str,
) -> None:
    with open("secure_comprehend.toml", "w") as f:  # the working directory is the test's
        f.write(f'[vpc]\nsubnets = ["{SUBNETS[1]}"]\nsecurity_group_ids = ["{GROUPS[0]}"]\n')
    session = AioSession()

    def add_tags(params: dict[str, Any], **_: Any) -> None:
        params["Tags"] = TAGS

    session.register(f"before-parameter-build.comprehend.{OP}", add_tags)

    async def main() -> None:
        async with sc.aio_client(
            region_name=REGION, session=session, endpoint_url=endpoint, config=FAST
        ) as client:
            job = await client.start_entities_detection_job(**IO, DataAccessRoleArn=ROLES[1])
            described = await client.describe_entities_detection_job(JobId=job["JobId"])
            tags = await client.list_tags_for_resource(ResourceArn=job["JobArn"])
        properties = described["EntitiesDetectionJobProperties"]
        assert properties["VpcConfig"] == {"Subnets": [SUBNETS[1]], "SecurityGroupIds": [GROUPS[0]]}
        assert tags["Tags"] == TAGS

    run(main)


def test_aio_client_without_a_posture_raises_at_the_call() -> None:
    with pytest.raises(sc.PostureError):
        sc.aio_client(region_name=REGION)  # not even entered: no client was made
    with pytest.raises(TypeError):
        sc.aio_client(region_name=REGION, posture={"mode": "enforce"})  # type: ignore[arg-type]


def test_aio_client_without_aiobotocore_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiobotocore.session", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'secure-comprehend\[aio\]'"):
        sc.aio_client(region_name=REGION, posture=make_posture())


# Many tasks on one client


def test_many_concurrent_tasks_on_one_client_are_each_judged_on_their_own(endpoint: str) -> None:
    tasks = 60
    bad = [{"VpcConfig": BAD_VPC}, {"VolumeKmsKeyId": OTHER_KEY}, {"DataAccessRoleArn": OTHER_ROLE}]
    bad_path = ["VpcConfig.Subnets[0]", "VolumeKmsKeyId", "DataAccessRoleArn"]
    in_flight, most = 0, 0

    def params(i: int) -> dict[str, Any]:
        own: dict[str, Any] = {"JobName": f"job-{i}"}
        if i % 3 == 1:  # a partial VpcConfig of its own: completed, its subnet kept
            own["VpcConfig"] = {"Subnets": [SUBNETS[i % 2]]}
        if i % 3 == 2:
            own.update(bad[i % len(bad)])
        return own

    async def enter(**_: Any) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)  # every task gets this far before any goes on

    async def one(client: Any, i: int) -> Any:
        try:
            return await client.start_entities_detection_job(**IO, **params(i))
        finally:
            nonlocal in_flight
            in_flight -= 1

    async def main() -> None:
        async with plain(endpoint) as client:
            client.meta.events.register(f"before-parameter-build.comprehend.{OP}", enter)
            sc.protect(client, make_posture())
            results = await asyncio.gather(
                *(one(client, i) for i in range(tasks)), return_exceptions=True
            )
            jobs = {job["JobName"]: job for job in await received(client)}
        assert most > tasks // 2  # they really ran at once
        for i, result in enumerate(results):
            if i % 3 == 2:
                assert isinstance(result, sc.PostureViolation), (i, result)
                assert [v.path for v in result.violations] == [bad_path[i % len(bad)]]
                assert f"job-{i}" not in jobs
            else:
                assert isinstance(result, dict), (i, result)
                vpc = (
                    VPC
                    if i % 3 == 0
                    else {"Subnets": [SUBNETS[i % 2]], "SecurityGroupIds": list(GROUPS)}
                )
                assert_posture_applied(jobs.pop(f"job-{i}"), vpc)
        assert jobs == {}  # nothing else reached Comprehend

    run(main)


# A region the posture does not cover (its keys are us-east-1's)


def test_a_region_without_posture_refuses_the_client_in_enforce_mode(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, made = recording_session(monkeypatch)

    async def main() -> None:
        manager = sc.aio_client(
            "eu-west-1", posture=make_posture(), session=session, endpoint_url=endpoint
        )
        with pytest.raises(sc.PostureError, match="eu-west-1"):
            async with manager:
                raise AssertionError("a client without posture was handed out")
        assert made[0].exited  # created, then closed again

    run(main)


def test_a_region_without_posture_in_audit_mode_logs_covered_calls(
    endpoint: str, sc_logs: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        manager = sc.aio_client(
            "eu-west-1", posture=make_posture("audit"), endpoint_url=endpoint, config=FAST
        )
        async with manager as client:
            await client.detect_sentiment(Text="good", LanguageCode="en")  # not covered
            assert not [r for r in sc_logs.records if r.levelno == logging.WARNING]
            await client.start_entities_detection_job(**IO, DataAccessRoleArn=ROLES[1])
            assert len(await received(client)) == 1  # sent anyway

    run(main)
    [warning] = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert "(region)" in warning.getMessage() and "eu-west-1" in warning.getMessage()


# [models] verify: describes models with the client, synchronously; not for async clients


def test_models_verify_is_refused_for_an_aio_client_which_stays_as_it_was(endpoint: str) -> None:
    async def main() -> None:
        async with plain(endpoint) as client:
            with pytest.raises(sc.PostureError, match=r"\[models\] verify = true .* async"):
                sc.protect(client, make_posture(models=VERIFY))
            job = await start_and_describe(client, VpcConfig=BAD_VPC, DataAccessRoleArn=ROLES[1])
            assert job["VpcConfig"] == BAD_VPC  # unprotected, exactly as before the call
            assert "VolumeKmsKeyId" not in job

    run(main)


def test_models_verify_keeps_the_protection_a_client_had(endpoint: str) -> None:
    async def main() -> None:
        async with plain(endpoint) as client:
            sc.protect(client, make_posture())
            with pytest.raises(sc.PostureError, match=r"\[models\] verify"):
                sc.protect(client, make_posture(models=VERIFY))
            with pytest.raises(sc.PostureViolation):
                await client.start_entities_detection_job(**IO, VpcConfig=BAD_VPC)
            assert_posture_applied(await start_and_describe(client))

    run(main)


def test_aio_client_with_models_verify_raises_on_entering(endpoint: str) -> None:
    async def main() -> None:
        manager = sc.aio_client(
            REGION, posture=make_posture(models=VERIFY), endpoint_url=endpoint, config=FAST
        )
        with pytest.raises(sc.PostureError, match=r"\[models\] verify"):
            async with manager:
                raise AssertionError("a client was handed out")

    run(main)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a coroutine never awaited
@pytest.mark.parametrize("mode", ["audit", "enforce"])
def test_models_verify_where_a_client_is_not_refused_at_creation(
    endpoint: str, mode: str, sc_logs: pytest.LogCaptureFixture
) -> None:
    """Not strict (patch(), a followed fleet source): covered calls say why. Audit mode:
    the rest of the posture applies, and a WARNING says verification is off."""
    model = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:entity-recognizer/recognizer"

    async def main() -> None:
        async with plain(endpoint) as client:
            posture = make_posture(mode, models=VERIFY)
            if mode == "audit":
                sc.protect(client, posture)  # audit mode never breaks a caller
            else:  # as patch() and a client following a fleet source build it
                protect_with(client, posture, strict=False)
            await client.detect_sentiment(Text="good", LanguageCode="en")  # not covered
            own = {"EntityRecognizerArn": model, "DataAccessRoleArn": ROLES[0]}
            call = client.start_entities_detection_job(**IO, **own)
            if mode == "enforce":
                with pytest.raises(sc.PostureViolation, match=r"\[models\] verify") as refused:
                    await call
                assert [v.path for v in refused.value.violations] == ["(posture)"]  # not a region's
                assert await received(client) == []
            else:  # the rest of the posture still applies: only verification is off
                await call
                (job,) = await received(client)
                assert job["VpcConfig"] == VPC
                assert job["VolumeKmsKeyId"] == KEYS["volume_key"]
        gc.collect()

    run(main)
    warnings = [r.getMessage() for r in sc_logs.records if r.levelno == logging.WARNING]
    refusals = [r.getMessage() for r in sc_logs.records if r.getMessage().startswith("refused")]
    if mode == "audit":  # verification is off, said once
        assert len(warnings) == 1 and "[models] verify" in warnings[0] and not refusals
    else:  # the refusal is raised, and logged at INFO only: a person sees it once
        assert not warnings and len(refusals) == 1 and "[models] verify" in refusals[0]


def test_models_verify_still_protects_a_boto3_client() -> None:
    client = boto3.Session(region_name=REGION).client("comprehend")
    assert sc.protect(client, make_posture(models=VERIFY)) is client


def test_a_body_rewritten_by_a_handler_registered_last_never_reaches_the_wire(
    endpoint: str,
) -> None:
    async def evil(request: Any, **_: Any) -> None:  # runs after every check in before-send
        body = json.loads(request.body)
        body["DataAccessRoleArn"] = OTHER_ROLE
        request.body = json.dumps(body).encode()
        request.headers["Content-Length"] = str(len(request.body))

    async def main() -> None:
        async with plain(endpoint) as client:
            sc.protect(client, make_posture())
            client.meta.events.register_last("before-send", evil)
            with pytest.raises(sc.PostureViolation, match="DataAccessRoleArn"):
                await client.start_entities_detection_job(**IO)
            assert await received(client) == []

    run(main)


def test_patch_protects_aiobotocore_clients_imported_before_it(endpoint: str) -> None:
    assert "aiobotocore" in sys.modules  # imported by this module
    sc.patch(make_posture())

    async def run() -> None:
        async with AioSession().create_client(
            "comprehend", region_name=REGION, endpoint_url=endpoint, config=FAST
        ) as client:
            assert sc.guard_of(client) is not None
            with pytest.raises(sc.PostureViolation):
                await client.start_entities_detection_job(**IO, VpcConfig=BAD_VPC)

    try:
        asyncio.run(run())
    finally:
        sc.unpatch()


PATCH_THEN_IMPORT = """
import asyncio, sys
import secure_comprehend as sc
sc.patch(sc.Posture(iam={"data_access_roles": ["arn:aws:iam::111122223333:role/R"]}))
assert "aiobotocore" not in sys.modules
from aiobotocore.session import AioSession  # the usual notebook order: patch, then import

async def main():
    async with AioSession().create_client("comprehend", region_name="us-east-1") as client:
        print(sc.guard_of(client))
        try:
            await client.start_entities_detection_job(
                InputDataConfig={"S3Uri": "s3://in/"}, OutputDataConfig={"S3Uri": "s3://out/"},
                LanguageCode="en", DataAccessRoleArn="arn:aws:iam::111122223333:role/Other")
        except sc.PostureViolation as exc:
            print("refused", exc.violations[0].path)

asyncio.run(main())
"""


def test_patch_protects_aiobotocore_clients_imported_after_it(tmp_path: Any) -> None:
    import subprocess

    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PATCH_THEN_IMPORT], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "<guarded: enforce mode in us-east-1 built in code>",
        "refused DataAccessRoleArn",
    ]


@pytest.fixture
def slow_fleet(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowFleet]:
    """A fleet posture in moto's Secrets Manager, read back at the TTL's end by a store
    that takes 0.5 s to answer."""
    from secure_comprehend.posture.fleet import cache as _live

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)  # the fleet's store
    clock = [1000.0]
    monkeypatch.setattr(_live, "_now", lambda: clock[0])
    sc.clear_posture_cache()
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint)
    secrets.create_secret(Name="org/posture", SecretString=_posture_toml(SUBNETS))
    session = boto3.Session(region_name=REGION)
    fleet = SlowFleet(sc.load_posture("secretsmanager:org/posture", session=session), secrets)
    session.events.register("before-send.secrets-manager.GetSecretValue", fleet.slow_store)
    clock[0] += 301  # past the 300 s TTL: the next call reads the store again
    yield fleet
    sc.clear_posture_cache()


class SlowFleet:
    def __init__(self, posture: sc.Posture, secrets: Any) -> None:
        self.posture, self.secrets = posture, secrets
        self.read_in: list[int] = []  # the thread of each read of the store

    def slow_store(self, **_: Any) -> None:
        import threading
        import time

        self.read_in.append(threading.get_ident())
        time.sleep(0.5)


def _posture_toml(subnets: Any) -> str:
    return (
        f"[vpc]\nsubnets = {json.dumps(list(subnets))}\n"
        f"security_group_ids = {json.dumps(list(GROUPS))}\n"
        f"[iam]\ndata_access_roles = {json.dumps(list(ROLES))}\n"
    )


def test_a_fleet_posture_is_read_off_the_event_loop_when_its_ttl_ends(
    endpoint: str, slow_fleet: SlowFleet
) -> None:
    """A store that answers slowly (or not at all, for up to about 10 s) holds a worker
    thread, never the event loop: the service's other tasks keep running meanwhile."""
    import threading

    slow_fleet.secrets.put_secret_value(
        SecretId="org/posture", SecretString=_posture_toml([OTHER_SUBNET])
    )

    async def main() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with plain(endpoint) as raw:
            client = sc.protect(raw, posture=slow_fleet.posture)
            task = asyncio.create_task(ticker())
            job = await start_and_describe(client)
            task.cancel()
        assert job["VpcConfig"]["Subnets"] == [OTHER_SUBNET]  # the new posture applied
        assert slow_fleet.read_in and threading.get_ident() not in slow_fleet.read_in
        assert ticks >= 10, ticks  # the loop ran while the store was read

    run(main)


def test_many_tasks_at_the_end_of_the_ttl_make_one_read_of_the_store(
    endpoint: str, slow_fleet: SlowFleet
) -> None:
    """While one worker thread reads the store, the other tasks go on with the last good
    posture (as threads do): one read, and every request protected."""

    async def main() -> None:
        async with plain(endpoint) as raw:
            client = sc.protect(raw, posture=slow_fleet.posture)
            jobs = await asyncio.gather(*(start_and_describe(client) for _ in range(20)))
        for job in jobs:
            assert job["VpcConfig"]["Subnets"] == list(SUBNETS)
            assert job["DataAccessRoleArn"] == ROLES[0]

    run(main)
    assert len(slow_fleet.read_in) == 1


def test_the_store_is_never_read_on_the_loop_when_the_ttl_ends_between_two_clock_reads(
    endpoint: str, slow_fleet: SlowFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler asks whether a read is due, then asks for the posture: if the TTL ends
    between the two, the read waits for the next call's worker thread."""
    import threading

    from secure_comprehend.posture.fleet import cache as _live

    readings = iter([1299.999])  # "not due" once, then past the TTL (good at 1000)
    monkeypatch.setattr(_live, "_now", lambda: next(readings, 1300.001))

    async def main() -> None:
        async with plain(endpoint) as raw:
            client = sc.protect(raw, posture=slow_fleet.posture)
            job = await start_and_describe(client)
        assert job["VpcConfig"]["Subnets"] == list(SUBNETS)  # the posture kept applying
        assert threading.get_ident() not in slow_fleet.read_in

    run(main)


# The one request path, as on a boto3 client (tests/test_request_path.py)


def _job_body(session: Any, wire_server: Any) -> bytes:
    """What an unprotected client of ``session`` sends for a job that escapes the posture."""
    escape = {**IO, "VpcConfig": BAD_VPC, "DataAccessRoleArn": OTHER_ROLE}

    async def main() -> None:
        async with plain(wire_server.url, session=session) as client:
            with contextlib.suppress(Exception):  # the server's empty answer
                await client.start_entities_detection_job(**escape)

    run(main)
    [(_, _, body)] = wire_server.received
    wire_server.received.clear()
    return body


SMUGGLED = ["json call, cbor body", "cbor path with a fragment", "cbor call sent as json"]


@pytest.mark.parametrize("how", SMUGGLED)
def test_an_uncovered_call_smuggling_a_job_is_refused(
    wire_server: WireServer, modified_session: Any, how: str
) -> None:
    json_session = AioSession()
    json_body = _job_body(json_session, wire_server)
    cbor_session = AioSession() if how == "json call, cbor body" else None
    modified_session(cbor_only)
    cbor_body = _job_body(AioSession(), wire_server)
    session = json_session if how == "json call, cbor body" else cbor_session or AioSession()

    def smuggle(request: Any, **_: Any) -> None:
        if how == "json call, cbor body":
            request.data = cbor_body
            request.headers["Content-Type"] = "application/cbor"
        elif how == "cbor path with a fragment":
            base = request.url.rpartition("/operation/")[0]
            request.url = f"{base}/operation/{OP}#/operation/DetectSentiment"
            request.data = cbor_body
        else:
            request.headers["X-Amz-Target"] = f"Comprehend_20171127.{OP}"
            request.headers["Content-Type"] = "application/x-amz-json-1.1"
            del request.headers["smithy-protocol"]
            request.data = json_body

    async def main() -> None:
        async with plain(wire_server.url, session=session) as client:
            sc.protect(client, make_posture())
            client.meta.events.register("before-sign.comprehend.DetectSentiment", smuggle)
            with pytest.raises(sc.PostureViolation, match=r"DetectSentiment \(request\)"):
                await client.detect_sentiment(Text="good", LanguageCode="en")

    run(main)
    assert wire_server.received == []


@pytest.mark.parametrize("body", ["bytearray edited in place", "claims to be equal"])
def test_what_is_judged_is_what_is_sent(wire_server: WireServer, body: str) -> None:
    editable = bytearray()

    def before(request: Any, **_: Any) -> None:  # before the check
        if body == "bytearray edited in place":
            editable[:] = request.data
            request.data = editable

    def after(request: Any, **_: Any) -> None:  # after every check but the send's
        if body == "bytearray edited in place":
            editable[:] = editable.replace(SUBNETS[0].encode(), OTHER_SUBNET.encode())
        else:
            bad = json.loads(request.body) | {"VpcConfig": BAD_VPC}
            request.body = AlwaysEqual(json.dumps(bad).encode())

    async def main() -> None:
        async with plain(wire_server.url) as client:
            sc.protect(client, make_posture())
            client.meta.events.register("before-sign.comprehend", before)
            client.meta.events.register_last("before-send", after)
            with contextlib.suppress(sc.PostureViolation):
                await client.start_entities_detection_job(**IO)

    run(main)
    assert [b for b in wire_server.bodies() if OTHER_SUBNET.encode() in b] == []


def test_a_posture_swapped_in_flight_judges_the_next_call_only(wire_server: WireServer) -> None:
    other_subnets = ["subnet-0aaaaaaaaaaaaaaa0"]
    second = make_posture(vpc={"subnets": other_subnets, "security_group_ids": list(GROUPS)})

    async def main() -> None:
        async with plain(wire_server.url) as client:
            sc.protect(client, make_posture())
            swapped: list[bool] = []

            def swap(**_: Any) -> None:  # after the parameters were built, before the send
                if not swapped:
                    sc.protect(client, second)
                    swapped.append(True)

            client.meta.events.register("before-call.comprehend", swap)
            await client.start_entities_detection_job(**IO)
            await client.start_entities_detection_job(**IO)

    run(main)
    sent = [json.loads(body)["VpcConfig"]["Subnets"] for body in wire_server.bodies()]
    assert sent == [list(SUBNETS), other_subnets]


FIND_SPEC_FIRST = """
import asyncio, importlib.util
import secure_comprehend as sc
sc.patch(sc.Posture(iam={"data_access_roles": ["arn:aws:iam::111122223333:role/R"]}))
assert importlib.util.find_spec("aiobotocore.client") is not None  # a feature check, no import
from aiobotocore.session import AioSession

async def main():
    async with AioSession().create_client("comprehend", region_name="us-east-1") as client:
        print(sc.guard_of(client) is not None)

asyncio.run(main())
"""


def test_a_feature_check_before_the_import_uses_nothing_up(tmp_path: Any) -> None:
    import subprocess

    env = {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", FIND_SPEC_FIRST], capture_output=True, text=True, env=env
    )
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr
