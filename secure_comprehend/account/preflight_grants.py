"""Preflight: what a data-access role is granted, judged by IAM's own evaluator.

A job needs its role to reach the network interfaces (a VPC job), each key, and
each approved bucket (``[s3]``). ``iam:SimulatePrincipalPolicy`` (read-only)
evaluates the role's policies as IAM does, its permissions boundary and
conditions included, for each of those capabilities, with the context a job
gives (the subnet, Comprehend as the service, the bucket's account). When the
caller may not simulate, or the simulator cannot be reached, the role's policies
are read by hand and a WARN says what that reading cannot see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from secure_comprehend._errors import aws_error_code
from secure_comprehend.account.report import Check, Skipped
from secure_comprehend.policy.provisioning import DESCRIBE_ACTIONS, ENI_ACTIONS, KMS_ACTIONS

if TYPE_CHECKING:
    from secure_comprehend.account.report import Probe
    from secure_comprehend.posture.model import EffectivePosture

FIX = "Fix: attach the PermissionsPolicy of 'secure-comprehend policy --kind data-access-role'"
S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")


@dataclass(frozen=True)
class Need:
    """One action a job needs its role to be allowed, on one resource, in a context."""

    capability: str  # what it is for: "network interfaces", "key ARN", "bucket NAME"
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()  # condition key -> the value a job gives


def needs(posture: EffectivePosture, partition: str, region: str, account: str) -> list[Need]:
    """Every grant a job under ``posture`` needs from its data-access role."""
    found: list[Need] = []
    if posture.vpc is not None:
        ec2 = f"arn:{partition}:ec2:{region}:{account}"
        found += [Need("network interfaces", action, "*") for action in DESCRIBE_ACTIONS]
        for subnet in posture.vpc.subnets:  # a job's interface may be in any of them
            eni = (("ec2:Subnet", f"{ec2}:subnet/{subnet}"),)  # what the policy scopes by
            found += [
                Need("network interfaces", action, f"{ec2}:network-interface/eni-0", eni)
                for action in ENI_ACTIONS
            ]
            found.append(
                Need("network interfaces", "ec2:CreateNetworkInterface", f"{ec2}:subnet/{subnet}")
            )
        found += [
            Need("network interfaces", "ec2:CreateNetworkInterface", f"{ec2}:security-group/{g}")
            for g in posture.vpc.security_group_ids
        ]
    for key in sorted(set(posture.default_keys.values())):
        found += [Need(f"key {key}", action, key) for action in KMS_ACTIONS]
    if posture.s3 is not None:
        owned = (("s3:ResourceAccount", account),)
        for bucket in exact_buckets(posture.s3.allowed_buckets):
            arn = f"arn:{partition}:s3:::{bucket}"
            found.append(Need(f"bucket {bucket}", "s3:ListBucket", arn, owned))
            found += [
                Need(f"bucket {bucket}", action, f"{arn}/object", owned)
                for action in S3_OBJECT_ACTIONS
            ]
    return found


def exact_buckets(allowed: tuple[str, ...] | list[str]) -> list[str]:
    """The bucket names of ``allowed`` that are names, not patterns."""
    return sorted(b for b in allowed if not any(c in b for c in "*?["))


Judge = Callable[[str, list["Need"], dict["Need", tuple[str, list[str]]]], Iterator[Check]]


def grants(
    probe: Probe,
    arn: str,
    role: dict[str, Any],
    wanted: list[Need],
    judge: Judge | None = None,
) -> Iterator[Check]:
    """One finding per capability that is missing or denied, else one PASS (``judge`` says
    them, from IAM's decisions: ``why`` names a job's own URIs); without the simulator, the
    role's policies read by hand, and a WARN saying so."""
    if not wanted:
        return
    try:
        decisions = _simulate(probe, arn, wanted, _resource_policies(probe, wanted))
    except Exception as exc:  # not allowed to simulate, or no simulator (an emulator)
        why = str(exc) if isinstance(exc, Skipped) else aws_error_code(exc)
        why = why or f"{type(exc).__name__}: {exc}"
        yield Check(
            "roles",
            arn,
            "WARN",
            f"IAM's policy simulator could not be used ({why}): the role's policies are read "
            "by hand, which sees no condition values and no permissions boundary",
        )
        yield from _by_hand(probe, arn, role, wanted)
        return
    yield from (judge or _judged)(arn, wanted, decisions)


def _resource_policies(probe: Probe, wanted: list[Need]) -> dict[str, str]:
    """Resource ARN -> the policy of its key or bucket, which may grant the role itself
    (what cannot be read is left out: the role's own policies must grant it then)."""
    read: dict[str, str] = {}  # key ARN or bucket name -> its policy, "" for none
    found: dict[str, str] = {}
    for need in wanted:
        if ":kms:" in need.resource:
            source = need.resource
        elif ":s3:::" in need.resource:
            source = need.resource.split(":::", 1)[1].split("/", 1)[0]
        else:
            continue
        if source not in read:
            read[source] = _policy_of(probe, source, is_key=source == need.resource)
        if read[source]:
            found[need.resource] = read[source]
    return found


def _policy_of(probe: Probe, source: str, *, is_key: bool) -> str:
    try:
        if is_key:
            answer = probe.once("kms", "GetKeyPolicy", KeyId=source, PolicyName="default")
        else:
            answer = probe.call("s3", "GetBucketPolicy", Bucket=source)
    except Exception:  # none (NoSuchBucketPolicy), refused, or an alias: not used
        return ""
    return str(answer.get("Policy") or "")


def _simulate(
    probe: Probe, arn: str, wanted: list[Need], policies: dict[str, str]
) -> dict[Need, tuple[str, list[str]]]:
    """Need -> (IAM's decision, the condition keys it lacked), one simulation per resource,
    with the resource's own policy where it has one."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[Need]] = {}
    for need in wanted:
        groups.setdefault((need.resource, need.context), []).append(need)
    decisions: dict[Need, tuple[str, list[str]]] = {}
    for (resource, context), group in groups.items():
        arguments: dict[str, Any] = {
            "PolicySourceArn": arn,
            "ActionNames": sorted({n.action for n in group}),
            "ContextEntries": [
                {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
                for k, v in context
            ],
        }
        if resource != "*":
            arguments["ResourceArns"] = [resource]
        if resource in policies:
            arguments["ResourcePolicy"] = policies[resource]
            if ":s3:::" in resource:  # a bucket's ARN does not name its account
                account = arn.split(":")[4]
                arguments["ResourceOwner"] = f"arn:{arn.split(':')[1]}:iam::{account}:root"
        results: dict[str, tuple[str, list[str]]] = {}
        markers: set[str] = set()
        while True:
            page = probe.call("iam", "SimulatePrincipalPolicy", **arguments)
            for result in page.get("EvaluationResults", []):
                missing = list(result.get("MissingContextValues") or [])
                results[result["EvalActionName"].lower()] = (result["EvalDecision"], missing)
            if not page.get("IsTruncated"):
                break
            marker = page.get("Marker")
            if not marker or marker in markers:
                raise RuntimeError("the simulator's answer never ends (IsTruncated, no new Marker)")
            markers.add(marker)
            arguments["Marker"] = marker
        for need in group:
            decisions[need] = results.get(need.action.lower(), (_UNANSWERED, []))
    return decisions


_UNANSWERED = "no answer"


def _judged(
    arn: str, wanted: list[Need], decisions: dict[Need, tuple[str, list[str]]]
) -> Iterator[Check]:
    denied: dict[str, set[str]] = {}
    missing: dict[str, set[str]] = {}
    unsure: dict[str, set[str]] = {}
    unanswered: set[str] = set()
    for need in wanted:
        decision, lacking = decisions[need]
        if decision == "explicitDeny":
            denied.setdefault(need.capability, set()).add(need.action)
        elif decision == _UNANSWERED:
            unanswered.add(need.action)
        elif decision != "allowed" and lacking:
            unsure.setdefault(need.capability, set()).update(lacking)
        elif decision != "allowed":
            missing.setdefault(need.capability, set()).add(need.action)
    for capability, actions in denied.items():
        yield Check(
            "roles",
            arn,
            "FAIL",
            f"denied for {capability} (IAM's policy simulator): {', '.join(sorted(actions))}",
        )
    for capability, actions in missing.items():
        yield Check(
            "roles",
            arn,
            "FAIL",
            f"not granted for {capability} (IAM's policy simulator): "
            f"{', '.join(sorted(actions))}. {FIX}",
        )
    for capability, keys in unsure.items():
        yield Check(
            "roles",
            arn,
            "WARN",
            f"granted for {capability} only under conditions on {', '.join(sorted(keys))}, "
            "which this check cannot give the simulator",
        )
    if unanswered:
        yield Check(
            "roles",
            arn,
            "WARN",
            f"IAM's policy simulator gave no answer for {', '.join(sorted(unanswered))}",
        )
    if not (denied or missing or unsure or unanswered):
        yield Check(
            "roles",
            arn,
            "PASS",
            f"IAM's policy simulator allows it {_what(wanted)}, its permissions boundary "
            "included (key policies: see key policy)",
        )


def _what(wanted: list[Need]) -> str:
    parts = [
        name
        for name, prefix in (("EC2 network-interface", "ec2:"), ("KMS", "kms:"), ("S3", "s3:"))
        if any(n.action.startswith(prefix) for n in wanted)
    ]
    return f"the {' and '.join(parts)} actions a job needs"


# By hand: the role's policy statements, read without condition values or boundaries.


def _by_hand(probe: Probe, arn: str, role: dict[str, Any], wanted: list[Need]) -> Iterator[Check]:
    try:
        statements = _statements(probe, arn.rsplit("/", 1)[1])
    except Skipped as exc:
        yield Check("roles", arn, "SKIPPED", f"{exc}; cannot see what the role is granted")
        return
    denied: set[str] = set()
    unsure: set[str] = set()
    missing: dict[str, set[str]] = {}
    for need in wanted:
        found = {_effect(s, need) for s in statements}
        if "Deny" in found:
            denied.add(need.action)
        elif "Deny?" in found or ("Allow" not in found and "Allow?" in found):
            unsure.add(need.action)  # a Deny that may apply, or only an Allow that may
        elif "Allow" not in found:
            missing.setdefault(need.capability, set()).add(need.action)
    if denied:
        yield Check(
            "roles", arn, "FAIL", f"denied by its own policies: {', '.join(sorted(denied))}"
        )
    for capability, actions in missing.items():
        yield Check(
            "roles",
            arn,
            "FAIL",
            f"not granted for {capability}: {', '.join(sorted(actions))}. {FIX}",
        )
    if denied or missing:
        return
    caveats = []
    if unsure:
        caveats.append(
            f"granted only under conditions or NotAction/NotResource: {', '.join(sorted(unsure))}"
        )
    if role.get("PermissionsBoundary"):
        caveats.append("a permissions boundary applies and is not evaluated")
    if caveats:
        yield Check("roles", arn, "WARN", "; ".join(caveats))
    else:
        yield Check("roles", arn, "PASS", f"its policies grant {_what(wanted)}")


def _effect(statement: dict[str, Any], need: Need) -> str | None:
    """ "Allow" or "Deny" when the statement plainly applies to ``need``; "Allow?" or
    "Deny?" when it may (a condition, NotAction, NotResource: not evaluated by hand);
    None when it does not."""
    effect = "Deny" if statement.get("Effect") == "Deny" else "Allow"
    if "NotAction" in statement or "NotResource" in statement:
        return f"{effect}?"
    actions = [str(a).lower() for a in as_list(statement.get("Action"))]
    if not any(fnmatchcase(need.action.lower(), a) for a in actions):  # names: any case
        return None
    if not any(fnmatchcase(need.resource, str(r)) for r in as_list(statement.get("Resource"))):
        return None  # ARNs: exactly as written
    return f"{effect}?" if statement.get("Condition") else effect


def _listed(probe: Probe, operation: str, key: str, role: str) -> list[Any]:
    """Every page of an IAM listing of a role's policies (IsTruncated, Marker)."""
    found: list[Any] = []
    marker: dict[str, str] = {}
    while True:
        page = probe.call("iam", operation, RoleName=role, **marker)
        found += page.get(key, [])
        if not page.get("IsTruncated") or not page.get("Marker"):
            return found
        marker = {"Marker": str(page["Marker"])}


def _statements(probe: Probe, name: str) -> list[dict[str, Any]]:
    """Every statement of the role's attached and inline policies."""
    documents = []
    attached = _listed(probe, "ListAttachedRolePolicies", "AttachedPolicies", name)
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
    for policy_name in _listed(probe, "ListRolePolicies", "PolicyNames", name):
        documents.append(
            probe.call("iam", "GetRolePolicy", RoleName=name, PolicyName=policy_name)[
                "PolicyDocument"
            ]
        )
    return [s for doc in documents for s in as_list(policy_json(doc).get("Statement"))]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_json(document: Any) -> dict[str, Any]:
    """A policy document as botocore returns it: decoded, or URL-encoded JSON text."""
    if isinstance(document, str):
        return dict(json.loads(unquote(document)))
    return dict(document)
