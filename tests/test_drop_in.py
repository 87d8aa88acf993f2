"""A true drop-in: other handlers compose, audit mode never breaks, memory stays bounded."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import (
    GROUPS,
    KEYS,
    OTHER_ROLE,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    Recorder,
    make_posture,
)

import secure_comprehend as sc

IO = {"InputDataConfig": {"S3Uri": "s3://in/"}, "OutputDataConfig": {"S3Uri": "s3://out/"}}
TAGS = [{"Key": "cost-centre", "Value": "ml-42"}]
OP = "StartTopicsDetectionJob"
VPC = {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}
REGISTER = ("register", "register_first", "register_last")


def register(client: Any, how: str, event: str, handler: Callable[..., Any]) -> None:
    getattr(client.meta.events, how)(event, handler)


def plain_client(session: boto3.Session | None = None) -> Any:
    return (session or boto3.Session(region_name=REGION)).client("comprehend", region_name=REGION)


# Compose, then enforce: a team's Tags helper keeps working, the posture lands on top.


def add_tags_by_returning(params: dict[str, Any], **_: Any) -> dict[str, Any]:
    return {**params, "Tags": TAGS}  # provide-client-params: a returned dict replaces params


def add_tags_in_place(params: dict[str, Any], **_: Any) -> None:
    params["Tags"] = TAGS  # before-parameter-build: changed in place


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("how", REGISTER)
@pytest.mark.parametrize(
    ("event", "helper"),
    [
        (f"provide-client-params.comprehend.{OP}", add_tags_by_returning),
        ("provide-client-params.comprehend", add_tags_by_returning),
        ("provide-client-params.*.*", add_tags_by_returning),
        ("provide-client-params", add_tags_by_returning),
        (f"before-parameter-build.comprehend.{OP}", add_tags_in_place),
        ("before-parameter-build.comprehend", add_tags_in_place),
        ("before-parameter-build.*.*", add_tags_in_place),
        ("before-parameter-build", add_tags_in_place),
    ],
)
def test_a_tags_helper_and_the_posture_both_arrive(
    event: str, helper: Callable[..., Any], how: str, when: str
) -> None:
    client, recorder = plain_client(), Recorder()
    if when == "before":
        register(client, how, event, helper)
    sc.protect(client, make_posture())
    if when == "after":
        register(client, how, event, helper)
    client.meta.events.register_last("before-send", recorder)
    client.start_topics_detection_job(**IO)
    [sent] = recorder.sent()
    assert sent["Tags"] == TAGS
    assert sent["VpcConfig"] == VPC
    assert sent["DataAccessRoleArn"] == ROLES[0]
    assert sent["VolumeKmsKeyId"] == KEYS["volume_key"]


@pytest.mark.usefixtures("moto")
def test_tags_and_posture_reach_moto() -> None:
    client = sc.client(region_name=REGION, posture=make_posture())
    client.meta.events.register(f"provide-client-params.comprehend.{OP}", add_tags_by_returning)
    job = client.start_topics_detection_job(**IO)
    recorded = client.describe_topics_detection_job(JobId=job["JobId"])
    assert recorded["TopicsDetectionJobProperties"]["VpcConfig"] == VPC
    tags = client.list_tags_for_resource(ResourceArn=job["JobArn"])["Tags"]
    assert tags == TAGS


def test_a_caller_s_nested_objects_are_never_changed() -> None:
    client, recorder = plain_client(), Recorder()
    sc.protect(client, make_posture())
    client.meta.events.register_last("before-send", recorder)
    output = {"S3Uri": "s3://out/"}
    vpc = {"Subnets": [SUBNETS[0]]}
    client.start_topics_detection_job(
        InputDataConfig={"S3Uri": "s3://in/"}, OutputDataConfig=output, VpcConfig=vpc
    )
    assert output == {"S3Uri": "s3://out/"} and vpc == {"Subnets": [SUBNETS[0]]}
    assert recorder.sent()[0]["VpcConfig"]["SecurityGroupIds"] == list(GROUPS)


@pytest.mark.parametrize("how", REGISTER)
@pytest.mark.parametrize(
    "name",
    [
        f"before-parameter-build.comprehend.{OP}",
        "before-parameter-build.*.*",
        "before-parameter-build",
    ],
)
def test_a_handler_that_removes_an_injected_value_never_gets_it_out(name: str, how: str) -> None:
    client, recorder = plain_client(), Recorder()
    sc.protect(client, make_posture())
    register(client, how, name, lambda params, **_: params.pop("VpcConfig", None))
    client.meta.events.register_last("before-send", recorder)
    if (name, how) == ("before-parameter-build", "register_last"):  # runs after the posture
        with pytest.raises(sc.PostureViolation, match="VpcConfig: missing"):
            client.start_topics_detection_job(**IO)
        assert recorder.bodies == []
    else:  # it ran before the posture: filled in again
        client.start_topics_detection_job(**IO)
        assert recorder.sent()[0]["VpcConfig"] == VPC


# The final check sees every body before any other before-send handler does.

BEFORE_SEND_NAMES = [
    "*",
    "*.*",
    "*.*.*",
    "*.comprehend.*",
    f"*.*.{OP}",
    "before-send",
    "before-send.*",
    "before-send.*.*",
    f"before-send.*.{OP}",
    "before-send.comprehend",
    "before-send.comprehend.*",
    f"before-send.comprehend.{OP}",
]


def drop_vpc(params: dict[str, Any], model: Any, **_: Any) -> None:
    if model.name == OP:
        params.pop("VpcConfig", None)


class SendRecorder(Recorder):
    """A transport on a name that hears every event: it answers before-send only."""

    def __call__(self, request: Any = None, event_name: str = "", **kwargs: Any) -> Any:
        if not event_name.startswith("before-send."):
            return None
        return super().__call__(request, **kwargs)


@pytest.mark.parametrize("when", ["before", "after", "session"])
@pytest.mark.parametrize("how", REGISTER)
@pytest.mark.parametrize("name", BEFORE_SEND_NAMES)
def test_no_transport_ever_receives_a_violating_body(name: str, how: str, when: str) -> None:
    recorder = SendRecorder()
    session = boto3.Session(region_name=REGION)
    if when == "session":  # copied into every client the session makes, before protection
        getattr(session.events, how)(name, recorder)
    client = plain_client(session)
    if when == "before":
        register(client, how, name, recorder)
    sc.protect(client, make_posture())
    if when == "after":
        register(client, how, name, recorder)
    client.meta.events.register_last("before-parameter-build", drop_vpc)  # after the posture
    with pytest.raises(sc.PostureViolation, match="VpcConfig"):
        client.start_topics_detection_job(**IO)
    assert recorder.bodies == []
    client.meta.events.unregister("before-parameter-build", drop_vpc)
    client.start_topics_detection_job(**IO)  # compliant: it does reach them
    assert len(recorder.bodies) == 1


# Regions without a posture: covered calls are violations, nothing else changes.

OTHER_REGIONS = [
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "ca-central-1",
]


def covered_and_uncovered(client: Any) -> list[Any]:
    own = {**IO, "DataAccessRoleArn": ROLES[1]}  # the caller's own values, as without us
    return [
        lambda: client.start_topics_detection_job(**own),
        lambda: client.start_entities_detection_job(**own, LanguageCode="en"),
        lambda: client.list_entities_detection_jobs(),
        lambda: client.detect_sentiment(Text="good", LanguageCode="en"),
    ]


@pytest.mark.usefixtures("moto")
def test_audit_mode_under_patch_never_breaks_a_caller_in_any_region(
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    sc.patch(make_posture(mode="audit"))
    try:
        for region in OTHER_REGIONS:
            client = boto3.client("comprehend", region_name=region)
            for call in covered_and_uncovered(client):
                call()
            jobs = client.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"]
            assert len(jobs) == 1 and "VpcConfig" not in jobs[0]  # sent unchanged
    finally:
        sc.unpatch()
    warnings = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 * len(OTHER_REGIONS)  # one per covered call
    assert all("no posture for" in r.getMessage() for r in warnings)


@pytest.mark.usefixtures("moto")
def test_enforce_mode_under_patch_refuses_covered_calls_in_other_regions() -> None:
    sc.patch(make_posture())
    try:
        for region in OTHER_REGIONS:
            client = boto3.client("comprehend", region_name=region)
            start_topics, start_entities, list_jobs, detect = covered_and_uncovered(client)
            for covered in (start_topics, start_entities):
                with pytest.raises(sc.PostureViolation, match=f"no posture for {region}"):
                    covered()
            assert list_jobs()["EntitiesDetectionJobPropertiesList"] == []
            assert detect()["Sentiment"]
    finally:
        sc.unpatch()


@pytest.mark.usefixtures("moto")
def test_explicit_clients_in_a_region_without_posture() -> None:
    with pytest.raises(sc.PostureError, match=r"no posture for eu-west-1: .*\[regions\.eu-west-1"):
        sc.client(region_name="eu-west-1", posture=make_posture())
    audited = sc.client(region_name="eu-west-1", posture=make_posture(mode="audit"))
    audited.start_topics_detection_job(**IO, DataAccessRoleArn=ROLES[1])  # logged and sent
    assert len(audited.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"]) == 1


# Third-party code, unchanged, under sc.patch() in audit mode.

THIRD_PARTY = Path(__file__).parent / "third_party" / "comprehend_pipeline.py"


def test_a_third_party_pipeline_runs_unchanged_under_patch_in_audit_mode(
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    import runpy

    from moto import mock_aws

    pipeline = runpy.run_path(str(THIRD_PARTY), run_name="third_party")["run"]
    with mock_aws():
        plain = pipeline()
    sc.patch(make_posture(mode="audit"))
    try:
        with mock_aws():
            patched = pipeline()
    finally:
        sc.unpatch()
    assert patched == plain
    assert plain["jobs"] == 2
    audited = {r.operation for r in sc_logs.records if r.levelno == logging.WARNING}  # type: ignore[attr-defined]
    assert audited == {"CreateDocumentClassifier", "StartDocumentClassificationJob"}


# Bounded memory: nothing of a session outlives its clients.


def _retained_after(make: Callable[[], None], rounds: int) -> int:
    make()  # imports, the default model and first-use caches are not what we measure
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(rounds):
            make()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def protected_client_of_a_new_session() -> Any:
    client = boto3.Session(region_name=REGION).client("comprehend")
    return sc.protect(client, make_posture())


def test_protected_clients_of_many_sessions_retain_nothing() -> None:
    # tracemalloc makes each session about ten times slower: ten rounds, and a bound
    # below one comprehend model document (about 1.4 MiB), so that even one session's
    # document kept alive fails. Plain boto3 retains a few tens of KiB here.
    retained = _retained_after(protected_client_of_a_new_session, rounds=10)
    assert retained < 512 * 1024, f"{retained / 2**20:.2f} MiB retained"


def test_clients_of_one_session_share_one_walk_of_the_model() -> None:
    from secure_comprehend.decision.operations import operations_for

    session = boto3.Session(region_name=REGION)
    first, second = session.client("comprehend"), session.client("comprehend")
    tables = [
        operations_for(c.meta.service_model, c._loader)  # type: ignore[attr-defined]
        for c in (first, second)
    ]
    assert tables[0] is tables[1]


# Typing: protect() keeps the client's type.


GOOD_USE = """
import boto3
import secure_comprehend as sc

sc.protect(boto3.client("comprehend")).list_document_classifiers()
sc.client(region_name="us-east-1").detect_sentiment(Text="good", LanguageCode="en")
"""


GOOD_ASYNC_USE = """
import secure_comprehend as sc

async def main() -> None:
    async with sc.aio_client(region_name="us-east-1") as comprehend:
        await comprehend.detect_sentiment(Text="good", LanguageCode="en")
"""


TYPED_USES = {  # name: (usage, the error mypy must report, or None)
    "typed": (GOOD_USE, None),
    "async typed": (GOOD_ASYNC_USE, None),
    "async misspelt parameter": (
        GOOD_ASYNC_USE.replace("LanguageCode=", "LanguageCodes="),
        'Unexpected keyword argument "LanguageCodes"',
    ),
    "async misspelt method": (
        GOOD_ASYNC_USE.replace("detect_sentiment", "detect_sentimant"),
        'has no attribute "detect_sentimant"',
    ),
    "misspelt method": (
        GOOD_USE.replace("list_document_classifiers", "list_document_classifierz"),
        'has no attribute "list_document_classifierz"',
    ),
    "misspelt parameter": (
        GOOD_USE.replace("LanguageCode=", "LanguageCodes="),
        'Unexpected keyword argument "LanguageCodes"',
    ),
}


@pytest.fixture(scope="module")
def mypy_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """mypy --strict over every usage at once (one run: each costs seconds): its lines per usage."""
    folder = tmp_path_factory.mktemp("typed")
    files = {}
    for i, (name, (usage, _)) in enumerate(TYPED_USES.items()):
        files[name] = folder / f"usage_{i}.py"
        files[name].write_text(usage)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *map(str, files.values())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    lines = result.stdout.splitlines()
    return {name: "\n".join(x for x in lines if x.startswith(str(f))) for name, f in files.items()}


@pytest.mark.parametrize("name", TYPED_USES)
def test_clients_are_typed_for_mypy(mypy_reports: dict[str, str], name: str) -> None:
    error = TYPED_USES[name][1]
    if error is None:
        assert mypy_reports[name] == ""
    else:
        assert error in mypy_reports[name], mypy_reports[name]


# What a stranger tried (each once got a violating request out).

BAD = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}


def _send_while_reprotecting(
    client: Any, posture: sc.Posture, call: Callable[[], Any], senders: int, reprotectors: int
) -> None:
    """``call`` in ``senders`` threads while ``reprotectors`` threads and this one re-protect."""
    import threading

    done = threading.Event()

    def send() -> None:
        while not done.is_set():
            with contextlib.suppress(sc.PostureViolation):
                call()

    def reprotect() -> None:
        while not done.is_set():
            sc.protect(client, posture)

    workers = [threading.Thread(target=send) for _ in range(senders)]
    workers += [threading.Thread(target=reprotect) for _ in range(reprotectors)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(3000):
            sc.protect(client, posture)
    finally:
        done.set()
        for worker in workers:
            worker.join()


def test_re_protecting_a_client_in_use_leaves_no_unchecked_window() -> None:
    client, recorder = plain_client(), Recorder()
    posture = make_posture()
    sc.protect(client, posture)
    client.meta.events.register_last("before-send", recorder)
    # a request in an unchecked window would be sent: the recorder would see it
    _send_while_reprotecting(
        client,
        posture,
        lambda: client.start_topics_detection_job(**IO, VpcConfig=BAD, DataAccessRoleArn=ROLES[1]),
        senders=2,
        reprotectors=0,
    )
    assert recorder.bodies == []


def _race_first_protection(session: boto3.Session) -> list[bytes]:
    import threading

    client, recorder = plain_client(session), Recorder()
    client.meta.events.register_last("before-send", recorder)
    barrier = threading.Barrier(2)

    def protect_and_call() -> None:
        barrier.wait()
        sc.protect(client, make_posture())
        with contextlib.suppress(sc.PostureViolation):
            client.start_topics_detection_job(**IO, VpcConfig=BAD, DataAccessRoleArn=ROLES[1])

    workers = [threading.Thread(target=protect_and_call) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return recorder.bodies


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads as often as the interpreter can, so that races show."""
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("eager_thread_switches")
def test_concurrent_first_protection_never_returns_an_unprotected_client() -> None:
    session = boto3.Session(region_name=REGION)
    leaked = [body for _ in range(300) for body in _race_first_protection(session)]
    assert leaked == []  # before the fix, about 2% of such races sent an unchecked request


@pytest.mark.usefixtures("eager_thread_switches")
def test_re_protecting_keeps_the_final_check_for_requests_in_flight() -> None:
    client, recorder = plain_client(), Recorder()
    posture = make_posture()
    sc.protect(client, posture)
    client.meta.events.register_last("before-parameter-build", drop_vpc)  # after the posture
    client.meta.events.register_last("before-send", recorder)
    _send_while_reprotecting(
        client, posture, lambda: client.start_topics_detection_job(**IO), senders=4, reprotectors=1
    )
    assert [b for b in recorder.bodies if b"VpcConfig" not in b] == []


def test_a_request_re_targeted_after_it_was_built_is_refused() -> None:
    client, recorder = plain_client(), Recorder()
    sc.protect(client, make_posture())

    def retarget(request: Any, **_: Any) -> None:
        request.headers["X-Amz-Target"] = f"Comprehend_20171127.{OP}"
        request.data = json.dumps({**IO, "VpcConfig": BAD, "DataAccessRoleArn": ROLES[1]}).encode()

    client.meta.events.register("before-sign.comprehend.DetectSentiment", retarget)
    client.meta.events.register_last("before-send", recorder)
    with pytest.raises(sc.PostureViolation, match=rf"sent as {OP}, built as DetectSentiment"):
        client.detect_sentiment(Text="hello", LanguageCode="en")
    assert recorder.bodies == []


def test_a_body_changed_after_the_check_is_checked_again_before_the_http_send() -> None:
    client = plain_client()
    sc.protect(client, make_posture())

    def rewrite(request: Any, **_: Any) -> None:
        body = json.loads(request.body)
        request.body = json.dumps({**body, "VpcConfig": BAD}).encode()

    client.meta.events.register_first("before-send.*.*", rewrite)  # runs right after the check
    http_send = Recorder()  # registered last after protection: where botocore's HTTP send is
    client.meta.events.register_last("before-send", http_send)
    with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets\[0\]"):
        client.start_topics_detection_job(**IO)
    assert http_send.bodies == []


def test_a_body_with_duplicate_keys_is_refused() -> None:
    client, recorder = plain_client(), Recorder()
    sc.protect(client, make_posture())

    def duplicate(request: Any, **_: Any) -> None:
        bad = json.dumps({"VpcConfig": BAD})[1:-1]
        request.data = b"{" + bad.encode() + b", " + request.data[1:]

    client.meta.events.register("before-sign.comprehend", duplicate)
    client.meta.events.register_last("before-send", recorder)
    with pytest.raises(sc.PostureViolation, match="duplicate keys"):
        client.start_topics_detection_job(**IO)
    assert recorder.bodies == []


@pytest.mark.usefixtures("moto")
def test_patch_covers_sessions_created_before_it() -> None:
    early = boto3.Session(region_name=REGION)  # a library made it at import time
    sc.patch(make_posture())
    try:
        client = early.client("comprehend")
        with pytest.raises(sc.PostureViolation):
            client.start_topics_detection_job(**IO, VpcConfig=BAD)
        assert client.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"] == []
    finally:
        sc.unpatch()
    assert "apply-posture" not in str(
        early.client("comprehend").meta.events._emitter._unique_id_handlers
    )  # type: ignore[attr-defined]


@pytest.mark.usefixtures("moto")
def test_audit_mode_without_posture_says_why_before_botocore_complains(
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    from botocore.exceptions import ParamValidationError

    client = sc.client(region_name="eu-west-1", posture=make_posture(mode="audit"))
    with pytest.raises(ParamValidationError, match="DataAccessRoleArn"):
        client.start_topics_detection_job(**IO)  # relied on the posture, which has none here
    [warning] = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert "no posture for eu-west-1" in warning.getMessage()


def test_a_body_rewritten_after_the_recheck_never_reaches_the_network() -> None:
    """A handler registered last on before-send, after protection, runs after the
    re-check; the check inside botocore's HTTP send still sees what goes out."""
    import json

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        client = sc.client(
            region_name=REGION, posture=make_posture(), endpoint_url=f"http://{host}:{port}"
        )

        def evil(request: Any, **_: Any) -> None:
            body = json.loads(request.body)
            body["DataAccessRoleArn"] = OTHER_ROLE
            request.body = json.dumps(body).encode()
            request.headers["Content-Length"] = str(len(request.body))

        client.meta.events.register_last("before-send", evil)
        with pytest.raises(sc.PostureViolation, match="DataAccessRoleArn"):
            client.start_entities_detection_job(
                InputDataConfig={"S3Uri": "s3://in/docs/"},
                OutputDataConfig={"S3Uri": "s3://out/"},
                LanguageCode="en",
            )
        listed = client.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"]
        assert listed == []
    finally:
        server.stop()


# A before-send handler that rewrites the request, and a transport on before-send: whatever
# their names, order and registration, the transport never receives the rewrite.

REWRITER_NAMES = ["before-send", "before-send.comprehend", f"before-send.comprehend.{OP}", "*"]


def rewrite_to_a_bad_subnet(request: Any = None, event_name: str = "", **_: Any) -> None:
    import json

    if not event_name.startswith("before-send."):
        return
    body = json.loads(request.body)
    body["VpcConfig"] = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
    request.body = json.dumps(body).encode()
    request.headers["Content-Length"] = str(len(request.body))


@pytest.mark.parametrize("transport_when", ["before", "after"])
@pytest.mark.parametrize("how", REGISTER)
@pytest.mark.parametrize("name", REWRITER_NAMES)
def test_no_transport_receives_what_another_before_send_handler_rewrote(
    name: str, how: str, transport_when: str
) -> None:
    transport, client = SendRecorder(), plain_client()
    if transport_when == "before":
        client.meta.events.register("before-send", transport)
    sc.protect(client, make_posture())
    if transport_when == "after":
        client.meta.events.register("before-send", transport)
    register(client, how, name, rewrite_to_a_bad_subnet)
    with contextlib.suppress(sc.PostureViolation):  # refused, or answered before the rewrite
        client.start_topics_detection_job(**IO)
    assert all(OTHER_SUBNET.encode() not in body for body in transport.bodies)


def test_moto_never_stores_a_job_rewritten_on_before_send(moto: None) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    client.meta.events.register("before-send.comprehend", rewrite_to_a_bad_subnet)
    with pytest.raises(sc.PostureViolation, match="VpcConfig"):
        client.start_entities_detection_job(**IO, LanguageCode="en")
    jobs = client.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"]
    assert jobs == []
