"""The statements of the Deny-only policies: per condition key, the Missing and the
Unapproved statement over every region scope (``policy.iam`` makes the scopes and the documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secure_comprehend.decision.operations import OperationsTable
from secure_comprehend.policy.text import wildcards
from secure_comprehend.posture.ids import parse_kms
from secure_comprehend.posture.kinds import CORE_KINDS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from secure_comprehend.posture.model import EffectivePosture

# Operation member kind -> the IAM condition key that carries it (IAM Service
# Authorization Reference; the operations carrying each come from botocore's model).
KMS_CONDITION_KEYS = {
    "volume_key": "comprehend:VolumeKmsKey",
    "output_key": "comprehend:OutputKmsKey",
    "model_key": "comprehend:ModelKmsKey",
    "data_lake_key": "comprehend:DataLakeKmsKey",
}
VPC_CONDITION_KEYS = {
    "Subnets": "comprehend:VpcSubnets",
    "SecurityGroupIds": "comprehend:VpcSecurityGroupIds",
}
VPC_KEY = VPC_CONDITION_KEYS["Subnets"]
COMPREHEND_PRINCIPAL = "comprehend.amazonaws.com"

# A region scope: its name in Sids, its aws:RequestedRegion condition, its posture
Scope = tuple[str, dict[str, Any], "EffectivePosture"]


@dataclass(frozen=True)
class Actions:
    """Per member kind, from the operations table: the actions that carry it, those
    that create (not Update*), and the kinds whose API takes a KMS alias."""

    carrying: dict[str, list[str]]
    creating: dict[str, list[str]]
    alias_kinds: frozenset[str]

    @classmethod
    def of(cls, table: OperationsTable) -> Actions:
        carrying: dict[str, list[str]] = {}
        creating: dict[str, list[str]] = {}
        alias_kinds = set()
        for name, spec in table.specs.items():
            for member in (m for m in spec.members if m.kind in CORE_KINDS):
                carrying.setdefault(member.kind, []).append(f"comprehend:{name}")
                if not spec.is_update:
                    creating.setdefault(member.kind, []).append(f"comprehend:{name}")
                if member.accepts_alias:
                    alias_kinds.add(member.kind)
        return cls(carrying, creating, frozenset(alias_kinds))


RR = "aws:RequestedRegion"


def deny_statements(
    actions: Actions, scopes: list[Scope], notes: list[str]
) -> list[dict[str, Any]]:
    """A Missing and an Unapproved statement per condition key, over every scope.

    A statement carries a region condition only where the posture differs by
    region: scopes that approve the same values share one statement, and a key
    that every scope configures alike has none.
    """
    carrying, creating, alias_kinds = actions.carrying, actions.creating, actions.alias_kinds
    out: list[dict[str, Any]] = []

    def where(configuring: list[Scope]) -> dict[str, Any]:
        if len(configuring) == len(scopes):
            return {}
        explicit = [s for s in configuring if "StringEquals" in s[1]]
        if len(explicit) == len(configuring):  # aws:RequestedRegion is always in a Comprehend call
            return region_condition(
                "StringEquals", sorted(r for s in explicit for r in s[1]["StringEquals"][RR])
            )
        lacking = [s for s in scopes if s not in configuring]  # true when absent: fails closed
        return region_condition(
            "StringNotEquals", sorted(r for s in lacking for r in s[1]["StringEquals"][RR])
        )

    def deny(sid: str, actions: list[str], condition: dict[str, Any], group: list[Scope]) -> None:
        if actions and group:
            out.append(
                {
                    "Sid": f"Deny{sid}",
                    "Effect": "Deny",
                    "Action": wildcards(actions),
                    "Resource": "*",
                    "Condition": _merge(condition, where(group)),
                }
            )

    def by_values(pairs: list[tuple[Iterable[str], Scope]]) -> list[tuple[list[str], list[Scope]]]:
        """Scopes grouped by the values they approve, in a stable order."""
        groups: dict[tuple[str, ...], list[Scope]] = {}
        for values, scope in pairs:
            groups.setdefault(tuple(sorted(values)), []).append(scope)
        return [(list(v), g) for v, g in sorted(groups.items())]

    def suffix(group: list[Scope], every: int) -> str:
        return "" if every == 1 else "".join(s[0] for s in group) or "OtherRegions"

    with_vpc = [s for s in scopes if s[2].vpc is not None]
    # VpcConfig requires both lists: one Null statement finds a VpcConfig left out
    deny("MissingVpcSubnets", creating.get("vpc", []), {"Null": {VPC_KEY: "true"}}, with_vpc)
    for part, key in VPC_CONDITION_KEYS.items():
        name = key.split(":")[1]
        groups = by_values(
            [(s[2].subnets if part == "Subnets" else s[2].security_groups, s) for s in with_vpc]
        )
        for approved, group in groups:
            deny(
                f"Unapproved{name}{suffix(group, len(groups))}",
                carrying.get("vpc", []),
                {"ForAnyValue:StringNotEquals": {key: approved}},
                group,
            )
    for kind, key in KMS_CONDITION_KEYS.items():
        name = key.split(":")[1]
        with_keys = [s for s in scopes if kind in s[2].approved_keys]
        with_default = [s for s in with_keys if s[2].default_key(kind)]
        deny(f"Missing{name}", creating.get(kind, []), {"Null": {key: "true"}}, with_default)
        groups = by_values(
            [
                (_policykey_refs(s[2].approved_keys[kind], kind in alias_kinds, s[2], notes), s)
                for s in with_keys
            ]
        )
        for arns, group in groups:
            # ArnNotEquals alone is true when the key is absent (a negated operator):
            # Null false keeps it to requests that name a key. No key the condition can
            # carry is approved: every key named is denied (never an empty ArnNotEquals).
            condition: dict[str, Any] = {"Null": {key: "false"}}
            if arns:
                condition = {"ArnNotEquals": {key: arns}, **condition}
            deny(
                f"Unapproved{name}{suffix(group, len(groups))}",
                carrying.get(kind, []),
                condition,
                group,
            )
    with_roles = [s for s in scopes if s[2].iam is not None]
    if with_roles:
        roles = sorted({r for s in with_roles for r in s[2].roles})
        # No region condition: roles are global, and AWS does not document that an
        # iam:PassRole check carries aws:RequestedRegion (StringEquals on an absent key
        # would never deny).
        out.append(
            {
                "Sid": "DenyPassingUnapprovedRoleToComprehend",
                "Effect": "Deny",
                "Action": "iam:PassRole",
                "NotResource": roles,
                "Condition": {"StringEquals": {"iam:PassedToService": COMPREHEND_PRINCIPAL}},
            }
        )
        if len(with_roles) < len(scopes) or len({s[2].roles for s in with_roles}) > 1:
            notes.append(
                "Data-access roles differ by region: iam:PassRole is denied for roles outside "
                "the union of every region's roles (a PassRole check need not carry "
                "aws:RequestedRegion); which role a region may use is enforced by the client."
            )
    return out


def _policykey_refs(
    keys: frozenset[str], accepts_alias: bool, posture: EffectivePosture, notes: list[str]
) -> list[str]:
    """The approved keys as ARNs; aliases only where the API takes one."""
    arns = set()
    for text in keys:
        ref = parse_kms(text)
        if ref is None or (ref.form != "key_arn" and not accepts_alias):
            continue
        if ref.form == "alias_name":
            written = _alias_arn(ref.id, posture)
            if written is None:
                notes.append(
                    f"Alias name {ref.text}: the posture names no key ARN or role of its own "
                    "account, so the policy cannot name it and denies it; add the alias ARN."
                )
                continue
            text = written
            notes.append(f"Alias name {ref.text} is written as {text}.")
        arns.add(text)
    return sorted(arns)


def _alias_arn(alias: str, posture: EffectivePosture) -> str | None:
    """An alias name as an ARN of the posture's own account (a key ARN's, else a
    data-access role's), in its keys' region; None when no account is known (a wildcard
    account would match the alias of the same name in any account)."""
    home = next((r for r in key_refs(posture) if r.form == "key_arn"), None)
    if home is not None:
        return f"arn:{home.partition}:kms:{home.region}:{home.account}:{alias}"
    role = next(iter(sorted(posture.roles)), None)
    if role is None:
        return None
    partition, account = role.split(":")[1], role.split(":")[4]
    region = posture.region if posture.region != "*" else "*"
    return f"arn:{partition}:kms:{region}:{account}:{alias}"


def key_refs(posture: EffectivePosture) -> list[Any]:
    also = posture.kms.also_allowed if posture.kms else ()
    texts = [*posture.default_keys.values(), *also]
    return [ref for ref in (parse_kms(t) for t in texts) if ref and ref.region]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def region_condition(operator: str, regions: list[str]) -> dict[str, Any]:
    return {operator: {"aws:RequestedRegion": regions}}


def _merge(condition: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    merged = {operator: dict(keys) for operator, keys in condition.items()}
    for operator, keys in scope.items():
        merged.setdefault(operator, {}).update(keys)
    return merged
