"""Preflight: the data-access roles, their trust policy and what they are granted."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.report import Check, Skipped, error_code
from secure_comprehend.policy.provisioning import (
    DESCRIBE_ACTIONS,
    ENI_ACTIONS,
    KMS_ACTIONS,
)
from secure_comprehend.policy.statements import COMPREHEND_PRINCIPAL

if TYPE_CHECKING:
    from secure_comprehend.account.report import PreflightReport, Probe
    from secure_comprehend.posture.model import EffectivePosture

COMPREHEND = COMPREHEND_PRINCIPAL


def roles(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """Each role exists, trusts Comprehend, and is granted what jobs need."""
    if posture.iam is None:
        yield Check("roles", "-", "SKIPPED", "no [iam] section in the posture")
        return
    needs = _vpc_needs(posture, probe.region, report.account) if posture.vpc else []
    needs += [
        (action, key)
        for key in sorted(set(posture.default_keys.values()))
        for action in KMS_ACTIONS
    ]
    for arn in posture.iam.data_access_roles:
        name = arn.rsplit("/", 1)[1]
        account = arn.split(":")[4]
        if report.account and account != report.account:
            yield Check(
                "roles",
                arn,
                "SKIPPED",
                f"role in account {account}: run the check with credentials of that account",
            )
            continue
        try:
            role = probe.call("iam", "GetRole", RoleName=name)["Role"]
        except Skipped as exc:
            yield Check("roles", arn, "SKIPPED", str(exc))
            continue
        except Exception as exc:
            code = error_code(exc)
            if code == "NoSuchEntity":
                report.absent.add(arn)
                yield Check("roles", arn, "FAIL", "role does not exist: create it (see README)")
            else:
                yield Check("roles", arn, "FAIL", f"role cannot be read: {code}")
            continue
        yield _trust(arn, _json(role.get("AssumeRolePolicyDocument", {})))
        try:
            statements = _statements(probe, name)
        except Skipped as exc:
            yield Check("roles", arn, "SKIPPED", f"{exc}; cannot see what the role is granted")
            continue
        yield from _grants(arn, role, statements, needs)


def _vpc_needs(
    posture: EffectivePosture, region: str, account: str | None
) -> list[tuple[str, str]]:
    """(action, resource) pairs a VPC job needs: Describe* on "*", the ENI actions on a
    network interface, CreateNetworkInterface on each subnet and security group."""
    from secure_comprehend.posture.regions import partition_of

    assert posture.vpc is not None
    arn = f"arn:{partition_of(region) or 'aws'}:ec2:{region}:{account or '*'}"
    needs = [(action, "*") for action in DESCRIBE_ACTIONS]
    needs += [(action, f"{arn}:network-interface/eni-0") for action in ENI_ACTIONS]
    needs += [("ec2:CreateNetworkInterface", f"{arn}:subnet/{s}") for s in posture.vpc.subnets]
    needs += [
        ("ec2:CreateNetworkInterface", f"{arn}:security-group/{g}")
        for g in posture.vpc.security_group_ids
    ]
    return needs


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _trust(arn: str, document: dict[str, Any]) -> Check:
    conditional = False
    for statement in _as_list(document.get("Statement")):
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = _as_list(statement.get("Action"))
        if (
            statement.get("Effect") == "Allow"
            and COMPREHEND in services
            and any(fnmatchcase("sts:assumerole", a.lower()) for a in actions)
        ):
            condition = statement.get("Condition")
            if not condition:
                return Check("roles", arn, "PASS", f"trust policy lets {COMPREHEND} assume it")
            if _only_own_account(condition, arn.split(":")[4]):
                return Check(
                    "roles",
                    arn,
                    "PASS",
                    f"trust policy lets {COMPREHEND} assume it for account "
                    f"{arn.split(':')[4]} only (confused-deputy guard)",
                )
            conditional = True
    if conditional:
        return Check(
            "roles",
            arn,
            "WARN",
            f"trust policy lets {COMPREHEND} assume it only under conditions this check "
            "cannot evaluate",
        )
    return Check("roles", arn, "FAIL", f"trust policy does not let {COMPREHEND} assume it")


def _only_own_account(condition: dict[str, Any], account: str) -> bool:
    """A condition that only limits Comprehend to acting for the role's own account."""
    known = {
        ("StringEquals", "aws:sourceaccount"): lambda v: v == account,
        ("ArnLike", "aws:sourcearn"): lambda v: v.split(":")[4:5] == [account],
        ("ArnEquals", "aws:sourcearn"): lambda v: v.split(":")[4:5] == [account],
    }
    for operator, keys in condition.items():
        for key, values in keys.items():
            test = known.get((operator, key.lower()))
            if test is None or not all(test(str(v)) for v in _as_list(values)):
                return False
    return True


def _statements(probe: Probe, name: str) -> list[dict[str, Any]]:
    """Every statement of the role's attached and inline policies."""
    documents = []
    attached = probe.call("iam", "ListAttachedRolePolicies", RoleName=name)["AttachedPolicies"]
    for policy in attached:
        version = probe.call("iam", "GetPolicy", PolicyArn=policy["PolicyArn"])["Policy"]
        documents.append(
            probe.call(
                "iam",
                "GetPolicyVersion",
                PolicyArn=policy["PolicyArn"],
                VersionId=version["DefaultVersionId"],
            )["PolicyVersion"]["Document"]
        )
    for policy_name in probe.call("iam", "ListRolePolicies", RoleName=name)["PolicyNames"]:
        documents.append(
            probe.call("iam", "GetRolePolicy", RoleName=name, PolicyName=policy_name)[
                "PolicyDocument"
            ]
        )
    return [s for doc in documents for s in _as_list(_json(doc).get("Statement"))]


def _json(document: Any) -> dict[str, Any]:
    if isinstance(document, str):  # a URL-encoded policy botocore did not decode
        import json
        from urllib.parse import unquote

        return dict(json.loads(unquote(document)))
    return dict(document)


def _matches(patterns: list[Any], value: str) -> bool:
    return any(fnmatchcase(value.lower(), str(p).lower()) for p in patterns)


def _capability(action: str, resource: str) -> str:
    """What a needed grant is for: the network interfaces, or one key."""
    return "network interfaces" if action.startswith("ec2:") else f"key {resource}"


def _grants(
    arn: str, role: dict[str, Any], statements: list[dict[str, Any]], needs: list[tuple[str, str]]
) -> Iterator[Check]:
    """One finding per capability (the network interfaces, each key), each with its fix."""
    missing: dict[str, list[str]] = {}
    conditional, denied, unsure = [], [], []
    for action, resource in needs:
        granted = False
        for statement in statements:
            if "NotAction" in statement or "NotResource" in statement:
                if statement.get("Effect") == "Allow":
                    unsure.append(action)
                continue
            if not _matches(_as_list(statement.get("Action")), action):
                continue
            if not _matches(_as_list(statement.get("Resource")), resource):
                continue
            if statement.get("Effect") == "Deny":
                denied.append(action)
            elif statement.get("Condition"):
                conditional.append(action)
            else:
                granted = True
        if not granted and action not in conditional and action not in unsure:
            missing.setdefault(_capability(action, resource), []).append(action)
    if denied:
        yield Check(
            "roles", arn, "FAIL", f"denied by its own policies: {', '.join(sorted(set(denied)))}"
        )
    fix = "Fix: attach the PermissionsPolicy of 'secure-comprehend policy --kind data-access-role'"
    for capability, actions in missing.items():
        yield Check(
            "roles",
            arn,
            "FAIL",
            f"not granted for {capability}: {', '.join(sorted(set(actions)))}. {fix}",
        )
    if denied or missing:
        return
    caveats = []
    if conditional or unsure:
        unsure_actions = ", ".join(sorted(set(conditional + unsure)))
        caveats.append(f"granted only under conditions or NotAction/NotResource: {unsure_actions}")
    if role.get("PermissionsBoundary"):
        caveats.append("a permissions boundary applies and is not evaluated")
    if caveats:
        yield Check("roles", arn, "WARN", "; ".join(caveats))
        return
    parts = [
        name
        for name, prefix in (("EC2 network-interface", "ec2:"), ("KMS grant", "kms:"))
        if any(action.startswith(prefix) for action, _ in needs)
    ]
    what = f"{' and '.join(parts)} actions" if parts else "nothing further"
    yield Check("roles", arn, "PASS", f"its policies grant {what} (key policies: see key policy)")
