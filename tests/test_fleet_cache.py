"""The fleet cache: a posture read once per process, refreshed after the TTL, kept for at
most twice the TTL while refreshes fail, then refused; clients that follow it."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import boto3
import pytest
from conftest import GROUPS, REGION, SUBNETS, make_posture
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


def test_where_a_posture_came_from_lives_on_it_and_not_on_its_copies(
    ssm: Any, clock: Clock
) -> None:
    import copy
    import pickle

    from secure_comprehend.posture.origin import loaded_from

    posture = sc.load_posture(f"ssm:{PARAMETER}")
    found = loaded_from(posture)
    assert found is not None and found.live is not None
    assert str(found.origin).startswith(f"ssm:{PARAMETER}")
    built = sc.Posture.model_validate(posture.model_dump(exclude_unset=True))
    assert built == posture and loaded_from(built) is None  # equal: the same settings
    copies = [
        copy.copy(posture),
        copy.deepcopy(posture),
        pickle.loads(pickle.dumps(posture)),  # a fleet source's locks are not pickled
        posture.model_copy(update={"mode": "audit"}),
    ]
    assert [loaded_from(c) for c in copies] == [None, None, None, None]
    assert copies[:3] == [posture] * 3
    client = sc.protect(boto3.client("comprehend", region_name=REGION), copies[1])
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    clock.now += 301
    assert vpc_of(client) == list(SUBNETS)  # a copy is a posture of its own: not followed


def _in_a_child(work: Any, timeout: float = 20.0) -> int | None:
    """Fork; run ``work`` in the child; its exit code, or None if it hung past ``timeout``."""
    import os
    import signal
    import time

    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_a_fork_while_a_refresh_holds_the_lock_leaves_the_child_working(
    ssm: Any, clock: Clock
) -> None:
    first = sc.load_posture(f"ssm:{PARAMETER}")
    live = next(iter(_live._SOURCES.values()))

    def past_twice_the_ttl() -> None:
        clock.now += 601  # nothing good is left: the child must read the store itself
        assert sc.load_posture(f"ssm:{PARAMETER}") == first

    with live._lock:  # a refresh in progress in this thread while the process forks
        code = _in_a_child(past_twice_the_ttl)
    assert code == 0, "the child hung on a lock its parent held" if code is None else code


def test_clear_posture_cache_reaches_sources_evicted_from_the_cache(
    ssm: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sc.client(region_name=REGION, posture=sc.load_posture(f"ssm:{PARAMETER}"))
    monkeypatch.setattr(_live, "_SOURCES_MAX", 1)
    ssm.put_parameter(Name="/org/other", Value=posture_toml(), Type="String")
    sc.load_posture("ssm:/org/other")  # takes the one place: the client's source is evicted
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    sc.clear_posture_cache()  # the client's source was evicted: it is forgotten all the same
    assert vpc_of(client) == list(OTHER_SUBNETS)
