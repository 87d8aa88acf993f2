"""Observe mode: every request leaves as plain boto3 would send it, nothing is refused,
and each covered call is logged once with what the posture would have done."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from conftest import GROUPS, IO, OTHER_SUBNET, REGION, ROLES, WireServer, make_posture
from fleet_support import PARAMETER, Clock, posture_toml

import secure_comprehend as sc

VOLATILE = {"authorization", "x-amz-date", "amz-sdk-invocation-id", "amz-sdk-request"}
JOB = {  # the idempotency token given: botocore would make a random one per call
    **IO,
    "DataAccessRoleArn": "arn:aws:iam::444455556666:role/Theirs",
    "ClientRequestToken": "token",
}
OUTSIDE = {**JOB, "VpcConfig": {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}}


def sent(server: WireServer) -> list[tuple[str, dict[str, str], bytes]]:
    """What left, but for what botocore varies per request: the time, the signature, the
    invocation ID, and the order of its User-Agent feature IDs (a set)."""
    out = []
    for path, headers, body in server.received:
        kept = {k.lower(): v for k, v in headers.items() if k.lower() not in VOLATILE}
        agent = kept["user-agent"].split(" ")
        kept["user-agent"] = " ".join(
            "m/" + ",".join(sorted(p[2:].split(","))) if p.startswith("m/") else p for p in agent
        )
        out.append((path, kept, body))
    return out


def observed(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name == "secure_comprehend" and r.mode == "observe"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("params", [JOB, OUTSIDE], ids=["posture left out", "violating"])
def test_an_observed_request_is_byte_identical_to_plain_boto3_s(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture, params: dict[str, Any]
) -> None:
    session = boto3.Session(region_name=REGION)
    first = session.client("comprehend", endpoint_url=wire_server.url)
    first.start_entities_detection_job(**params)  # a session's first client says more (its
    wire_server.received.clear()  # User-Agent names how credentials were found)
    plain = session.client("comprehend", endpoint_url=wire_server.url)
    plain.start_entities_detection_job(**params)
    expected = sent(wire_server)
    wire_server.received.clear()
    watched = sc.client(
        posture=make_posture("observe"), session=session, endpoint_url=wire_server.url
    )
    watched.start_entities_detection_job(**params)
    assert sent(wire_server) == expected
    [record] = observed(sc_logs.records)
    assert record.levelno == logging.WARNING
    assert record.operation == "StartEntitiesDetectionJob"  # type: ignore[attr-defined]
    if params is JOB:  # the posture's network would have been filled in
        assert "VpcConfig" in record.injected  # type: ignore[attr-defined]
    else:  # and the other subnet refused
        assert "VpcConfig.Subnets[0]" in record.violations  # type: ignore[attr-defined]
    assert "DataAccessRoleArn" in record.violations  # type: ignore[attr-defined]
    assert "the posture would refuse it (enforce mode)" in record.getMessage()


def test_a_compliant_call_is_logged_once_at_info(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    sc_logs.set_level(logging.INFO, logger="secure_comprehend")
    watched = sc.client(
        region_name=REGION, posture=make_posture("observe"), endpoint_url=wire_server.url
    )
    compliant = sc.evaluate("StartEntitiesDetectionJob", IO, make_posture(), region=REGION).params
    watched.start_entities_detection_job(**compliant)
    watched.detect_sentiment(Text="fine", LanguageCode="en")  # not covered: not logged
    [record] = observed(sc_logs.records)
    assert (record.levelno, record.injected, record.violations) == (logging.INFO, [], [])  # type: ignore[attr-defined]


def test_observe_leaves_botocore_s_own_validation_alone(wire_server: WireServer) -> None:
    """What plain boto3 refuses for a missing member, observe does not fill in."""
    watched = sc.client(
        region_name=REGION, posture=make_posture("observe"), endpoint_url=wire_server.url
    )
    with pytest.raises(ParamValidationError, match="DataAccessRoleArn"):
        watched.start_entities_detection_job(**IO)
    assert wire_server.received == []


def test_a_region_without_a_posture_is_observed_not_refused(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    only_eu = sc.Posture(
        mode="observe",
        regions={"eu-west-1": sc.RegionSettings(iam=sc.IamSettings(data_access_roles=ROLES))},
    )
    watched = sc.client(region_name=REGION, posture=only_eu, endpoint_url=wire_server.url)
    watched.start_entities_detection_job(**JOB)
    assert len(wire_server.received) == 1
    [record] = observed(sc_logs.records)
    assert record.levelno == logging.WARNING and "(region)" in record.violations  # type: ignore[attr-defined]


def test_a_fleet_posture_past_its_ttl_is_observed_not_refused(
    ssm: Any, clock: Clock, sc_logs: pytest.LogCaptureFixture
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(mode="observe"), Overwrite=True)
    watched = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.delete_parameter(Name=PARAMETER)
    clock.now += 601  # past twice the TTL: enforce and audit refuse here
    for _ in range(3):  # and go on refusing; observe never does
        watched.start_entities_detection_job(**JOB)
        clock.now += 151  # each call past a retry pause: the store is asked again
    found = [
        r for r in observed(sc_logs.records) if "refused until a fetch succeeds" in r.getMessage()
    ]
    assert len(found) == 3
    assert sc.guard_of(watched).mode == "observe"  # type: ignore[union-attr]


@pytest.mark.usefixtures("moto")
def test_a_model_that_cannot_be_described_is_observed_not_refused(
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    watched = sc.client(
        region_name=REGION,
        posture=make_posture(
            "observe", models={"verify": True, "allowed_accounts": ["123456789012"]}
        ),
    )
    ghost = f"arn:aws:comprehend:{REGION}:123456789012:document-classifier/ghost"
    io = {k: v for k, v in IO.items() if k != "LanguageCode"}
    watched.start_document_classification_job(
        **io, DocumentClassifierArn=ghost, DataAccessRoleArn=ROLES[0]
    )
    [record] = observed(sc_logs.records)
    assert "cannot verify how the model was trained" in record.getMessage()


def test_protect_in_observe_mode_never_raises_for_the_region() -> None:
    only_eu = sc.Posture(
        mode="observe",
        regions={"eu-west-1": sc.RegionSettings(iam=sc.IamSettings(data_access_roles=ROLES))},
    )
    client = boto3.client("comprehend", region_name=REGION)
    assert sc.protect(client, only_eu) is client
    with pytest.raises(sc.PostureError):
        sc.protect(client, only_eu.model_copy(update={"mode": "enforce"}))


@pytest.mark.parametrize("mode", ["observe", "audit"])
def test_the_deny_policy_notes_say_a_rollout_mode_is_not_enforced(mode: str) -> None:
    notes = sc.deny_policies(make_posture(mode)).notes
    assert any(f"in {mode} mode" in n and "turn on enforce" in n for n in notes)
    assert not any("turn on enforce" in n for n in sc.deny_policies(make_posture()).notes)


def test_show_says_observe(capsys: pytest.CaptureFixture[str]) -> None:
    posture = make_posture("observe")
    assert "observe" in str(posture) and "observe" in posture._repr_html_()


def test_check_shows_an_observed_request_as_built(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from secure_comprehend.cli import main

    config = tmp_path / "posture.json"
    config.write_text(
        json.dumps(
            make_posture("observe").model_dump(mode="json", exclude_none=True, exclude={"regions"})
        )
    )
    request = tmp_path / "request.json"
    request.write_text(json.dumps({**IO, "DataAccessRoleArn": ROLES[0]}))
    assert (
        main(
            [
                "check",
                "StartEntitiesDetectionJob",
                str(request),
                "--config",
                str(config),
                "--region",
                REGION,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "the posture would have filled in: " in out and "VpcConfig" in out
    shown = json.loads(out[out.index("request as it would be sent:") + 28 :])
    assert shown == {**IO, "DataAccessRoleArn": ROLES[0]}


def test_a_request_changed_after_it_was_judged_is_logged_as_it_is_sent(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    """A handler that runs after the posture's (registered last, later) changes the
    request: observe still sends it as built, and says what enforce would refuse."""
    watched = sc.client(
        region_name=REGION, posture=make_posture("observe"), endpoint_url=wire_server.url
    )
    compliant = sc.evaluate("StartEntitiesDetectionJob", IO, make_posture(), region=REGION).params

    def foreign_role(params: dict[str, Any], **_: Any) -> None:
        params["DataAccessRoleArn"] = "arn:aws:iam::444455556666:role/Theirs"

    watched.meta.events.register_last("before-parameter-build", foreign_role)
    watched.start_entities_detection_job(**compliant)
    assert len(wire_server.received) == 1
    [late] = [r for r in observed(sc_logs.records) if r.levelno == logging.WARNING]
    assert "changed after its parameters were judged" in late.getMessage()
    assert late.violations == ["DataAccessRoleArn"]  # type: ignore[attr-defined]
