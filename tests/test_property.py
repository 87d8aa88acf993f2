"""Property: whatever the parameters, either a compliant request left or nothing did."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from conftest import (
    GROUPS,
    KEY_IDS,
    KEYS,
    OTHER_GROUP,
    OTHER_KEY,
    OTHER_ROLE,
    OTHER_SUBNET,
    OUTPUT_ALIAS,
    PARTNER_KEY,
    ROLES,
    SUBNETS,
    Recorder,
    make_posture,
    recorded_client,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import secure_comprehend as sc
from secure_comprehend.decision.operations import default_model
from secure_comprehend.decision.spec import Member, OperationSpec
from secure_comprehend.posture.kinds import CORE_KINDS

MODEL, TABLE, _ = default_model()
SPECS = sorted((s for s in TABLE.specs.values() if s.core), key=lambda s: s.name)
POSTURE = make_posture()
APPROVED_KEYS = {kind: {KEYS[kind], PARTNER_KEY, OUTPUT_ALIAS} for kind in KEYS}
SUBNET_POOL = [*SUBNETS, OTHER_SUBNET, "subnet-bad", ""]
GROUP_POOL = [*GROUPS, OTHER_GROUP, "sg-x"]
ABSENT = object()


def minimal(shape: Any) -> Any:
    """The smallest value botocore's validator accepts for a shape (required members only)."""
    if shape.type_name == "structure":
        return {name: minimal(shape.members[name]) for name in shape.required_members}
    if shape.type_name == "list":
        return [minimal(shape.member)]
    if shape.type_name == "map":
        return {}
    if shape.type_name in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if shape.type_name == "boolean":
        return False
    return "x" * max(20, int(shape.metadata.get("min", 1)))


def values_for(member: Member) -> st.SearchStrategy[Any]:
    if member.kind == "vpc":
        lists = st.one_of(st.none(), st.lists(st.sampled_from(SUBNET_POOL), max_size=17))
        groups = st.one_of(st.none(), st.lists(st.sampled_from(GROUP_POOL), max_size=6))
        return st.one_of(
            st.just(ABSENT),
            st.builds(
                lambda s, g: {
                    k: v for k, v in (("Subnets", s), ("SecurityGroupIds", g)) if v is not None
                },
                lists,
                groups,
            ),
        )
    if member.kind == "role":
        return st.sampled_from([ABSENT, *ROLES, OTHER_ROLE, "role/x", 7])
    return st.sampled_from(
        [
            ABSENT,
            KEYS[member.kind],
            KEY_IDS[member.kind],
            PARTNER_KEY,
            OUTPUT_ALIAS,
            "alias/comprehend-output",
            OTHER_KEY,
            "alias/other",
            "é",
            "k" * 2049,
        ]
    )


@st.composite
def requests(draw: st.DrawFn) -> tuple[OperationSpec, dict[str, Any]]:
    spec = draw(st.sampled_from(SPECS))
    params = minimal(MODEL.operation_model(spec.name).input_shape)
    for member in (m for m in spec.members if m.kind in CORE_KINDS):
        value = draw(values_for(member))
        node = params
        for name in member.path[:-1]:
            node = node.setdefault(name, {})
        if value is ABSENT:
            node.pop(member.path[-1], None)
        else:
            node[member.path[-1]] = value
    if "OutputDataConfig" in params and not params["OutputDataConfig"] and draw(st.booleans()):
        del params["OutputDataConfig"]
    return spec, params


def get(params: dict[str, Any], path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(params, dict) or name not in params:
            return ABSENT
        params = params[name]
    return params


def compliant(spec: OperationSpec, sent: dict[str, Any]) -> bool:
    """An oracle written from the posture, independent of the decision core."""
    for member in (m for m in spec.members if m.kind in CORE_KINDS):
        value = get(sent, member.path)
        parent = get(sent, member.path[:-1]) if len(member.path) > 1 else sent
        if value is ABSENT:
            # only an update, or a container the caller left out and we may not build, lacks it
            if not spec.is_update and (parent is not ABSENT or member.buildable):
                return False
            continue
        if member.kind == "vpc":
            if not (
                set(value["Subnets"]) <= set(SUBNETS)
                and set(value["SecurityGroupIds"]) <= set(GROUPS)
            ):
                return False
        elif member.kind == "role":
            if value not in ROLES:
                return False
        elif value not in APPROVED_KEYS[member.kind] or (
            value == OUTPUT_ALIAS and not member.accepts_alias
        ):
            return False
    return True


@pytest.fixture
def wired() -> tuple[Any, Recorder]:
    recorder = Recorder()
    return recorded_client(POSTURE, recorder), recorder


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests())
def test_compliant_or_nothing_left(
    wired: tuple[Any, Recorder], request: tuple[OperationSpec, dict[str, Any]]
) -> None:
    client, recorder = wired
    spec, params = request
    before = len(recorder.bodies)
    method = getattr(
        client, next(k for k, v in default_model()[2].items() if v == spec.name and k != v)
    )
    try:
        method(**params)
    except (sc.PostureViolation, ParamValidationError):
        assert len(recorder.bodies) == before
        return
    assert len(recorder.bodies) == before + 1
    assert compliant(spec, recorder.sent()[-1]), recorder.sent()[-1]


COPIES = {
    "model_copy": lambda p, update: p.model_copy(update=update),
    "copy+update": lambda p, update: copy.copy(p).model_copy(update=update),
    "deepcopy+update": lambda p, update: copy.deepcopy(p).model_copy(update=update),
    "pickle+update": lambda p, update: pickle.loads(pickle.dumps(p)).model_copy(update=update),
}


@st.composite
def posture_family(draw: st.DrawFn) -> list[sc.Posture]:
    """Postures made from one another by copies with changes, as a notebook would."""
    family = [make_posture()]
    for _ in range(draw(st.integers(1, 4))):
        parent = draw(st.sampled_from(family))
        parent.effective("us-east-1")  # derived state exists before the copy is made
        update = {
            "mode": draw(st.sampled_from(["enforce", "audit"])),
            "iam": {"data_access_roles": draw(st.permutations(ROLES))},
            "vpc": {
                "subnets": draw(st.lists(st.sampled_from(SUBNETS), min_size=1, unique=True)),
                "security_group_ids": list(GROUPS),
            },
        }
        family.append(COPIES[draw(st.sampled_from(sorted(COPIES)))](parent, update))
    return family


@settings(max_examples=40, deadline=None)
@given(family=posture_family(), data=st.data())
def test_a_client_enforces_exactly_its_own_posture(family: list[sc.Posture], data: Any) -> None:
    session = boto3.Session(region_name="us-east-1")
    for posture in data.draw(st.permutations(family)):
        recorder = Recorder()
        client = recorded_client(posture, recorder, session)
        io = {"InputDataConfig": {"S3Uri": "s3://i/"}, "OutputDataConfig": {"S3Uri": "s3://o/"}}
        client.start_topics_detection_job(**io)
        [sent] = recorder.sent()
        assert posture.iam is not None and posture.vpc is not None
        assert sent["DataAccessRoleArn"] == posture.iam.data_access_roles[0]
        assert sent["VpcConfig"]["Subnets"] == list(posture.vpc.subnets)
        outside = [s for s in SUBNETS if s not in posture.vpc.subnets] or [OTHER_SUBNET]
        violating = {"Subnets": outside, "SecurityGroupIds": list(GROUPS)}
        if posture.mode == "enforce":
            with pytest.raises(sc.PostureViolation):
                client.start_topics_detection_job(VpcConfig=violating, **io)
            assert len(recorder.bodies) == 1
        else:
            client.start_topics_detection_job(VpcConfig=violating, **io)
            assert recorder.sent()[-1]["VpcConfig"] == violating
