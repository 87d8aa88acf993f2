"""IAM policies from the posture: structure, lint, size, golden files, agreement with evaluate()."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import parliament
import pytest
from conftest import EXAMPLE_CONFIG, KEYS, OTHER_KEY, OTHER_ROLE, OTHER_SUBNET, PARTNER_KEY, ROLES
from iam_simulator import denied

import secure_comprehend as sc
from secure_comprehend.decision.operations import default_model
from secure_comprehend.policy.iam import deny_policies
from secure_comprehend.policy.statements import KMS_CONDITION_KEYS, VPC_CONDITION_KEYS
from secure_comprehend.policy.text import SIZE_LIMITS
from secure_comprehend.posture.kinds import CORE_KINDS

TABLE = default_model()[1]
EXAMPLE = sc.load_posture(EXAMPLE_CONFIG)
GOLDEN = Path(__file__).parent / "golden"
ALL_KEYS = {*KMS_CONDITION_KEYS.values(), *VPC_CONDITION_KEYS.values()}
KIND_OF_KEY = {
    **{v: k for k, v in KMS_CONDITION_KEYS.items()},
    **dict.fromkeys(VPC_CONDITION_KEYS.values(), "vpc"),
}


def statements(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for doc in documents for s in doc["Statement"]]


def iam_actions() -> set[str]:
    """Every Comprehend action in parliament's IAM database (independent of botocore)."""
    service = next(s for s in parliament.iam_definition if s["prefix"] == "comprehend")
    return {f"comprehend:{p['privilege']}" for p in service["privileges"]}


def expand(action: str | list[str]) -> set[str]:
    """A statement's Action, wildcards expanded over every Comprehend action."""
    from fnmatch import fnmatchcase

    patterns = [action] if isinstance(action, str) else action
    universe = iam_actions() | {f"comprehend:{n}" for n in default_model()[0].operation_names}
    return {a for a in universe for p in patterns if fnmatchcase(a, p)} | {
        p for p in patterns if "*" not in p
    }


def parliament_condition_keys() -> dict[str, set[str]]:
    """condition key -> the Comprehend actions carrying it, from parliament's IAM database."""
    service = next(s for s in parliament.iam_definition if s["prefix"] == "comprehend")
    carrying: dict[str, set[str]] = {}
    for privilege in service["privileges"]:
        for resource in privilege["resource_types"]:
            for key in resource["condition_keys"]:
                carrying.setdefault(key, set()).add(f"comprehend:{privilege['privilege']}")
    return carrying


@pytest.mark.parametrize("kind", ["identity", "scp"])
@pytest.mark.parametrize("region", [None, "us-east-1", "eu-west-1"])
def test_policies_lint_clean_with_parliament(kind: str, region: str | None) -> None:
    for document in sc.iam_policy(EXAMPLE, kind=kind, region=region):  # type: ignore[arg-type]
        findings = parliament.analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == []


def test_null_keys_exist_on_every_action_they_are_used_with() -> None:
    # parliament does not check keys under Null: check them against its IAM database.
    carrying = parliament_condition_keys()
    for statement in statements(sc.iam_policy(EXAMPLE)):
        for key in statement.get("Condition", {}).get("Null", {}):
            assert key in ALL_KEYS
            assert expand(statement["Action"]) <= carrying[key], statement["Sid"]


def test_actions_per_key_match_the_iam_reference() -> None:
    carrying = parliament_condition_keys()
    for key in ALL_KEYS:
        ours = {
            f"comprehend:{name}"
            for name, spec in TABLE.specs.items()
            if any(m.kind == KIND_OF_KEY[key] for m in spec.members)
        }
        assert ours == carrying[key], key


def _find(documents: list[dict[str, Any]], operator: str, key: str) -> list[dict[str, Any]]:
    return [s for s in statements(documents) if key in s.get("Condition", {}).get(operator, {})]


@pytest.mark.parametrize("key", sorted(ALL_KEYS))
def test_each_configured_key_has_missing_and_unapproved_statements(key: str) -> None:
    documents = sc.iam_policy(EXAMPLE, region="us-east-1")
    kind = KIND_OF_KEY[key]
    creates = {
        f"comprehend:{n}"
        for n, s in TABLE.specs.items()
        if not s.is_update and any(m.kind == kind for m in s.members)
    }
    everyone = {
        f"comprehend:{n}" for n, s in TABLE.specs.items() if any(m.kind == kind for m in s.members)
    }
    missing = [s for s in _find(documents, "Null", key) if s["Condition"]["Null"][key] == "true"]
    if key == "comprehend:VpcSecurityGroupIds":
        # VpcConfig requires both lists: the VpcSubnets Null statement finds one left out
        assert missing == []
    else:
        [statement] = missing
        assert expand(statement["Action"]) == creates
        assert not any("Update" in a for a in expand(statement["Action"]))
    operator = "ForAnyValue:StringNotEquals" if kind == "vpc" else "ArnNotEquals"
    [unapproved] = _find(documents, operator, key)
    assert expand(unapproved["Action"]) == everyone
    if operator == "ArnNotEquals":
        assert unapproved["Condition"]["Null"] == {key: "false"}  # absent key: not this statement
    for statement in (*missing, unapproved):
        assert statement["Effect"] == "Deny"
        assert "aws:RequestedRegion" not in json.dumps(statement)  # one region: no scoping
    assert not any(
        op.startswith("ForAllValues")
        for s in statements(documents)
        for op in s.get("Condition", {})
    )


def test_unconfigured_sections_get_no_statement() -> None:
    posture = sc.Posture(kms={"volume_key": KEYS["volume_key"]})
    documents = sc.iam_policy(posture)
    sids = [s["Sid"] for s in statements(documents)]
    assert sids == [
        "DenyMissingVolumeKmsKey",
        "DenyUnapprovedVolumeKmsKey",
        "DenyComprehendInRegionsWithoutPosture",
    ]


def test_passrole_denied_for_roles_outside_the_posture() -> None:
    [statement] = [s for s in statements(sc.iam_policy(EXAMPLE)) if s["Action"] == "iam:PassRole"]
    assert statement["NotResource"] == [ROLES[0]]
    assert (
        statement["Condition"]["StringEquals"]["iam:PassedToService"] == "comprehend.amazonaws.com"
    )


def test_posture_without_regional_arns_holds_everywhere() -> None:
    posture = sc.Posture(iam={"data_access_roles": [ROLES[0]]})
    result = deny_policies(posture)
    [statement] = statements(result.documents)
    assert "Condition" in statement and "aws:RequestedRegion" not in json.dumps(statement)
    assert not any("No posture holds" in n for n in result.notes)


def test_region_whose_posture_is_invalid_is_closed_even_when_the_top_level_holds_elsewhere() -> (
    None
):
    wrong = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    posture = sc.Posture(
        iam={"data_access_roles": [ROLES[0]]},
        regions={"eu-west-1": {"kms": {"volume_key": wrong}}},
    )
    result = deny_policies(posture)
    [closing] = [s for s in statements(result.documents) if s["Sid"].startswith("DenyComprehendIn")]
    assert closing["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
    [role] = [s for s in statements(result.documents) if s["Action"] == "iam:PassRole"]
    assert role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "comprehend.amazonaws.com"}
    }


def test_uncovered_regions_are_denied_and_said() -> None:
    result = deny_policies(EXAMPLE)
    [closing] = [
        s
        for s in statements(result.documents)
        if s["Sid"] == "DenyComprehendInRegionsWithoutPosture"
    ]
    assert closing["Condition"] == {
        "StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}
    }
    assert expand(closing["Action"]) == {
        f"comprehend:{n}" for n, s in TABLE.specs.items() if s.core
    }
    assert any(
        "No posture holds in regions other than eu-west-1, us-east-1" in n for n in result.notes
    )
    assert any("AWS does not document" in n for n in result.notes)


@pytest.mark.parametrize("kind", ["identity", "scp"])
def test_documents_stay_within_size_and_split_only_when_needed(kind: str) -> None:
    many = [
        f"arn:aws:kms:us-east-1:444455556666:key/{i:08x}-12ab-34cd-56ef-1234567890ab"
        for i in range(40)
    ]
    big = sc.Posture(kms={**KEYS, "also_allowed": many})
    documents = sc.iam_policy(big, kind=kind)  # type: ignore[arg-type]
    assert len(documents) > 1
    for document in documents:
        assert len(json.dumps(document, separators=(",", ":"))) <= SIZE_LIMITS[kind]
    small = sc.iam_policy(sc.Posture(kms={"volume_key": KEYS["volume_key"]}), kind=kind)  # type: ignore[arg-type]
    assert len(small) == 1


def test_a_statement_too_big_for_any_document_is_an_error() -> None:
    many = [
        f"arn:aws:kms:us-east-1:444455556666:key/{i:08x}-12ab-34cd-56ef-1234567890ab"
        for i in range(200)
    ]
    with pytest.raises(sc.PostureError, match="over the 5120-character scp limit"):
        sc.iam_policy(sc.Posture(kms={**KEYS, "also_allowed": many}), kind="scp")


@pytest.mark.parametrize("kind", ["identity", "scp"])
def test_golden_files_for_the_example_posture(kind: str) -> None:
    path = GOLDEN / f"example-{kind}.json"
    produced = json.dumps(sc.iam_policy(EXAMPLE, kind=kind), indent=2) + "\n"  # type: ignore[arg-type]
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(produced)
    assert produced == path.read_text()


# -- agreement with evaluate() -------------------------------------------------------------

REGION_KEYS = {
    "us-east-1": KEYS,
    "eu-west-1": {
        k: v.replace("us-east-1", "eu-west-1")
        .replace(":key/1", ":key/5")
        .replace(":key/2", ":key/6")
        .replace(":key/3", ":key/7")
        .replace(":key/4", ":key/8")
        for k, v in KEYS.items()
    },
}


def context_of(params: dict[str, Any], region: str) -> dict[str, Any]:
    """The condition keys AWS puts in the request context, per the IAM reference."""
    context: dict[str, Any] = {"aws:RequestedRegion": region}
    for holder in (params, params.get("DataSecurityConfig", {})):
        vpc = holder.get("VpcConfig", {})
        if "Subnets" in vpc:
            context["comprehend:VpcSubnets"] = list(vpc["Subnets"])
        if "SecurityGroupIds" in vpc:
            context["comprehend:VpcSecurityGroupIds"] = list(vpc["SecurityGroupIds"])
        for member, key in (
            ("VolumeKmsKeyId", "VolumeKmsKey"),
            ("ModelKmsKeyId", "ModelKmsKey"),
            ("DataLakeKmsKeyId", "DataLakeKmsKey"),
        ):
            if member in holder:
                context[f"comprehend:{key}"] = holder[member]
    if "KmsKeyId" in params.get("OutputDataConfig", {}):
        context["comprehend:OutputKmsKey"] = params["OutputDataConfig"]["KmsKeyId"]
    return context


def policy_denies(
    documents: list[dict[str, Any]], op: str, params: dict[str, Any], region: str
) -> list[str]:
    reasons = denied(documents, f"comprehend:{op}", context_of(params, region))
    for member in ("DataAccessRoleArn", "DesiredDataAccessRoleArn"):
        if member in params:
            # AWS does not document whether an iam:PassRole check carries
            # aws:RequestedRegion: the policy must decide the same with and without it
            passrole = {"iam:PassedToService": "comprehend.amazonaws.com"}
            without = denied(documents, "iam:PassRole", passrole, resource=params[member])
            regional = {**passrole, "aws:RequestedRegion": region}
            with_region = denied(documents, "iam:PassRole", regional, resource=params[member])
            assert without == with_region, (op, region, params[member])
            reasons += without
    return reasons


def corpus() -> list[tuple[str, str, str, dict[str, Any]]]:
    cases: list[tuple[str, str, str, dict[str, Any]]] = []
    for op, spec in sorted(TABLE.specs.items()):
        base: dict[str, Any] = (
            {"OutputDataConfig": {"S3Uri": "s3://o/"}}
            if any(m.path[0] == "OutputDataConfig" for m in spec.members)
            else {}
        )
        for region in ("us-east-1", "eu-west-1", "ap-south-1"):
            keys = REGION_KEYS.get(region, KEYS)
            cases.append((op, region, "business parameters only", base))
            for member in (m for m in spec.members if m.kind in CORE_KINDS):

                def put(value: Any, m: Any = member, base: dict[str, Any] = base) -> dict[str, Any]:
                    params = copy.deepcopy(base)
                    node = params
                    for name in m.path[:-1]:
                        node = node.setdefault(name, {})
                    node[m.path[-1]] = value
                    return params

                if member.kind == "vpc":
                    cases.append(
                        (
                            op,
                            region,
                            f"{member.dotted} unapproved subnet",
                            put(
                                {
                                    "Subnets": [OTHER_SUBNET],
                                    "SecurityGroupIds": ["sg-0123456789abcdef0"],
                                }
                            ),
                        )
                    )
                    cases.append(
                        (
                            op,
                            region,
                            f"{member.dotted} mixed subnets",
                            put({"Subnets": ["subnet-0123456789abcdef0", OTHER_SUBNET]}),
                        )
                    )
                    cases.append(
                        (
                            op,
                            region,
                            f"{member.dotted} approved",
                            put(
                                {
                                    "Subnets": ["subnet-0123456789abcdef1"],
                                    "SecurityGroupIds": ["sg-0123456789abcdef0"],
                                }
                            ),
                        )
                    )
                    cases.append(
                        (
                            op,
                            region,
                            f"{member.dotted} eu subnet",
                            put(
                                {
                                    "Subnets": ["subnet-0fedcba9876543210"],
                                    "SecurityGroupIds": ["sg-0fedcba9876543210"],
                                }
                            ),
                        )
                    )
                elif member.kind == "role":
                    cases.append((op, region, f"{member.dotted} approved role", put(ROLES[0])))
                    cases.append((op, region, f"{member.dotted} other role", put(OTHER_ROLE)))
                else:
                    cases.append(
                        (op, region, f"{member.dotted} approved key", put(keys[member.kind]))
                    )
                    cases.append(
                        (op, region, f"{member.dotted} cross-account key", put(PARTNER_KEY))
                    )
                    cases.append((op, region, f"{member.dotted} unapproved key", put(OTHER_KEY)))
                    other = REGION_KEYS["eu-west-1" if region == "us-east-1" else "us-east-1"][
                        member.kind
                    ]
                    cases.append((op, region, f"{member.dotted} other region's key", put(other)))
    return cases


CORPUS = corpus()


@pytest.mark.parametrize("kind", ["identity", "scp"])
def test_policy_and_evaluate_agree(kind: str) -> None:
    documents = sc.iam_policy(EXAMPLE, kind=kind)  # type: ignore[arg-type]
    assert len(CORPUS) > 300
    disagreements = []
    for op, region, label, params in CORPUS:
        try:
            decision = sc.evaluate(op, params, EXAMPLE, region=region)
        except sc.PostureError:  # the client refuses the region: so must the policy
            if not policy_denies(documents, op, params, region):
                disagreements.append(
                    (op, region, label, "client refuses the region, policy allows")
                )
            continue
        if decision.allowed:
            reasons = policy_denies(documents, op, decision.params, region)
            if reasons:
                disagreements.append((op, region, label, f"allowed, policy denies {reasons}"))
        elif not policy_denies(documents, op, params, region):
            disagreements.append(
                (op, region, label, f"refused ({decision.violations}), policy allows")
            )
    assert disagreements == []


# -- deployable as written ----------------------------------------------------------------

SINGLE = sc.Posture(**{k: getattr(EXAMPLE, k).model_dump() for k in ("vpc", "kms", "iam")})


@pytest.mark.parametrize(
    ("posture", "kind", "count"),
    [(SINGLE, "identity", 1), (SINGLE, "scp", 1), (EXAMPLE, "scp", 2)],
    ids=["single-identity", "single-scp", "example-scp"],
)
def test_document_counts(posture: sc.Posture, kind: str, count: int) -> None:
    assert len(sc.iam_policy(posture, kind=kind)) == count  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["identity", "scp"])
def test_files_are_compact_and_within_the_limit_as_written(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    out = tmp_path / "p.json"
    assert main(["policy", "--config", str(EXAMPLE_CONFIG), "--kind", kind, "--out", str(out)]) == 0
    written = sorted(tmp_path.glob("p*.json"))
    assert written
    for path in written:
        text = path.read_text()  # exactly what was measured: no trailing newline either
        assert "\n" not in text and ": " not in text and ", " not in text  # compact
        assert len(text) <= SIZE_LIMITS[kind], (path.name, len(text))
    capsys.readouterr()
    assert main(["policy", "--config", str(EXAMPLE_CONFIG), "--kind", kind]) == 0
    printed = capsys.readouterr().out.strip()
    assert json.loads(printed) == [json.loads(p.read_text()) for p in written]
    assert ", " not in printed


def test_wildcards_expand_to_the_intended_actions_only() -> None:
    universe = iam_actions() | {f"comprehend:{n}" for n in default_model()[0].operation_names}
    seen = 0
    for kind in ("identity", "scp"):
        for statement in statements(sc.iam_policy(EXAMPLE, kind=kind)):  # type: ignore[arg-type]
            actions = statement["Action"]
            for pattern in [actions] if isinstance(actions, str) else actions:
                if "*" not in pattern:
                    continue
                seen += 1
                assert pattern.endswith("*") and pattern.count("*") == 1  # SCPs allow no other
                assert len(expand(pattern)) > 1
                assert expand(pattern) <= universe
    assert seen > 5
    # what each statement stands for: the actions that carry its key, from the IAM reference
    carrying = parliament_condition_keys()
    for statement in statements(sc.iam_policy(EXAMPLE)):
        for operator in ("ForAnyValue:StringNotEquals", "ArnNotEquals"):
            for key in statement.get("Condition", {}).get(operator, {}):
                assert expand(statement["Action"]) == carrying[key], statement["Sid"]
    result = deny_policies(EXAMPLE)
    assert any("a future action matching one would be covered" in n for n in result.notes)
    assert any("at most 5 SCPs" in n for n in deny_policies(EXAMPLE, scp=True).notes)


def test_one_function_per_kind_of_document_each_with_its_notes() -> None:
    deny = sc.deny_policies(EXAMPLE)
    scp = sc.deny_policies(EXAMPLE, scp=True)
    roles = sc.data_access_role_policies(EXAMPLE)
    keys = sc.key_policies(EXAMPLE)
    for result in (deny, scp, roles, keys):
        assert isinstance(result, sc.Policies) and result.notes
        assert all(isinstance(note, str) for note in result.notes)
    assert deny.documents == sc.iam_policy(EXAMPLE)
    assert scp.documents == sc.iam_policy(EXAMPLE, kind="scp")
    assert not any("Sid" in s for d in scp.documents for s in d["Statement"])
    assert roles.documents == sc.iam_policy(EXAMPLE, kind="data-access-role")
    assert set(next(iter(roles.documents.values()))) == {"TrustPolicy", "PermissionsPolicy"}
    assert keys.documents == sc.iam_policy(EXAMPLE, kind="key-policy")


def test_the_posture_reader_policy_from_python() -> None:
    result = sc.posture_reader_policy("ssm:/org/comprehend/posture", region="eu-west-1")
    [statement, *_] = result.documents["Statement"]
    assert statement["Action"] == ["ssm:GetParameter"]
    assert "eu-west-1" in json.dumps(result.documents)
    with pytest.raises(sc.PostureError, match="not a fleet source"):
        sc.posture_reader_policy("./posture.toml")
    with pytest.raises(sc.PostureError, match="did you mean"):
        sc.posture_reader_policy("ssm:/org/posture", region="eu-west1")


def _conditions(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s.get("Condition", {}) for d in documents for s in d["Statement"]]


def test_an_alias_name_is_written_for_the_posture_s_own_account_never_any() -> None:
    role = "arn:aws:iam::111122223333:role/ComprehendDataAccess"
    posture = sc.Posture(kms={"also_allowed": ["alias/corp"]}, iam={"data_access_roles": [role]})
    result = sc.deny_policies(posture)
    text = json.dumps(result.documents)
    assert "arn:aws:kms:*:111122223333:alias/corp" in text
    assert ":*:alias/" not in text.replace(":*:111122223333:", "")  # no wildcard account
    alone = sc.deny_policies(sc.Posture(kms={"also_allowed": ["alias/corp"]}))
    assert "alias/corp" not in json.dumps(alone.documents)  # no account known: not named
    assert any("alias/corp" in note and "denies it" in note for note in alone.notes)


def test_no_condition_is_an_empty_list() -> None:
    # only alias names: the volume, model and data-lake keys (which take no alias) approve
    # no key the condition can carry: a key named there is denied outright
    posture = sc.Posture(kms={"also_allowed": ["alias/corp"]})
    conditions = _conditions(sc.deny_policies(posture).documents)
    assert all(
        values != []
        for condition in conditions
        for keys in condition.values()
        for values in keys.values()
    )
    volume = [c for c in conditions if "comprehend:VolumeKmsKey" in c.get("Null", {})]
    assert {"Null": {"comprehend:VolumeKmsKey": "false"}} in volume


def test_what_the_client_refuses_for_an_alias_only_posture_the_policy_denies() -> None:
    role = "arn:aws:iam::111122223333:role/ComprehendDataAccess"
    posture = sc.Posture(kms={"also_allowed": ["alias/corp"]}, iam={"data_access_roles": [role]})
    documents = sc.deny_policies(posture).documents
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    params = {"VolumeKmsKeyId": key, "DataAccessRoleArn": role}
    assert not sc.evaluate("StartEntitiesDetectionJob", params, posture, region="us-east-1").allowed
    context = {"comprehend:VolumeKmsKey": key, "aws:RequestedRegion": "us-east-1"}
    assert denied(documents, "comprehend:StartEntitiesDetectionJob", context)
    foreign_alias = {"comprehend:OutputKmsKey": "arn:aws:kms:us-east-1:444455556666:alias/corp"}
    assert denied(documents, "comprehend:StartEntitiesDetectionJob", foreign_alias)
