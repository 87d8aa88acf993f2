"""The posture as IAM policies: the server-side twin of the client's checks.

Deny-only documents built from the same posture and the same operations table
as the client, so the two cannot drift: for every action that carries a
Comprehend condition key, a configured setting that is missing is denied
(``Null``), and a value outside the approved ones is denied
(``ForAnyValue:StringNotEquals`` for the multi-valued VPC keys, ``ArnNotEquals``
guarded by ``Null: false`` for the single-valued KMS keys, since a negated
operator is true when its key is absent). Passing an unapproved role to
Comprehend is denied on ``iam:PassRole``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from secure_comprehend._errors import PostureError
from secure_comprehend._ids import parse_kms
from secure_comprehend._operations import OperationsTable, default_model

if TYPE_CHECKING:
    from secure_comprehend._posture import EffectivePosture, Posture

Kind = Literal["identity", "scp"]
# Characters, whitespace excluded: customer managed policy and service control policy.
SIZE_LIMITS: dict[str, int] = {"identity": 6144, "scp": 5120}
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
COMPREHEND_PRINCIPAL = "comprehend.amazonaws.com"


@dataclass
class PolicySet:
    """The documents, and what a reader of them needs to know."""

    documents: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def iam_policy(
    posture: Posture, *, kind: Kind = "identity", region: str | None = None
) -> list[dict[str, Any]]:
    """The posture as Deny-only IAM policy documents.

    Args:
        posture: the posture to export.
        kind: ``identity`` (customer managed policies, 6,144 characters each) or
            ``scp`` (service control policies, 5,120 characters each).
        region: only this region's effective posture; ``None`` covers every region the
            posture names and denies the covered actions in all others.

    Returns:
        One document, or several when one would exceed its kind's size limit.

    Raises:
        PostureError: the posture is not valid for ``region``, or a statement alone
            exceeds the size limit.
    """
    return build_policy(posture, kind=kind, region=region).documents


def build_policy(
    posture: Posture, *, kind: Kind = "identity", region: str | None = None
) -> PolicySet:
    """``iam_policy()`` with the notes the CLI prints beside the documents."""
    if kind not in SIZE_LIMITS:
        raise ValueError(f"kind must be one of {sorted(SIZE_LIMITS)}, not {kind!r}")
    table = default_model()[1]
    notes = [
        "AWS does not document which string Comprehend puts in an ARN-typed KMS condition key "
        "when a request names a bare key ID or an alias: the policy lists key ARNs and alias "
        "ARNs, and secure_comprehend clients always send key ARNs.",
        "No condition key says whether a data-access role was given: CreateEndpoint or "
        "ImportModel without a role is not denied (a role that is given must be approved).",
        "IAM cannot count list items: more than 16 subnets or 5 security groups, all approved, "
        "are refused by the client and by Comprehend's own validation, not by this policy.",
    ]
    scopes, uncovered = _scopes(posture, region, table, notes)
    actions = _Actions.of(table)
    statements = [s for scope in scopes for s in _statements(actions, *scope, notes)]
    statements = _merge_regions(statements, [suffix for suffix, _, _ in scopes])
    if uncovered is not None:
        statements.append(uncovered)
    return PolicySet(_pack(statements, kind), notes)


Scope = tuple[str, dict[str, Any], "EffectivePosture"]


def _scopes(
    posture: Posture, region: str | None, table: OperationsTable, notes: list[str]
) -> tuple[list[Scope], dict[str, Any] | None]:
    """The region scopes, and the statement that closes the regions none covers."""
    if region is not None:
        notes.append(f"Scoped to {region}: other regions are not covered by these documents.")
        return [
            (_camel(region), _regions("StringEquals", [region]), posture.effective(region))
        ], None
    scopes: list[Scope] = []
    covered: list[str] = []
    refused: list[str] = []

    def cover(name: str) -> None:
        try:
            scopes.append((_camel(name), _regions("StringEquals", [name]), posture.effective(name)))
            covered.append(name)
        except PostureError as exc:
            refused.append(name)
            notes.append(f"{name} is treated as a region without posture: {exc}")

    for name in sorted(posture.regions):
        cover(name)
    top = posture.top_level()
    elsewhere_open = False
    if top is not None:
        homes = sorted({ref.region for ref in _arns(top) if ref.region})
        if not homes:  # nothing regional at the top level: it holds wherever no section overrides
            scope = _regions("StringNotEquals", [*covered, *refused]) if posture.regions else {}
            scopes.append(("OtherRegions" if posture.regions else "", scope, top))
            elsewhere_open = True
        elif len(homes) > 1:
            notes.append(f"The top-level KMS keys name several regions {homes}: none can use them.")
        elif homes[0] not in posture.regions:
            cover(homes[0])
    if elsewhere_open and not refused:
        return scopes, None
    actions = sorted(f"comprehend:{name}" for name in table.specs)
    closed = (
        f"{', '.join(refused)}"
        if elsewhere_open
        else (f"regions other than {', '.join(sorted(covered))}" if covered else "every region")
    )
    notes.append(
        f"No posture holds in {closed}: secure_comprehend clients refuse covered calls there, and "
        f"DenyComprehendInRegionsWithoutPosture denies there the {len(actions)} Comprehend "
        "actions that carry VPC, KMS or role settings."
    )
    statement: dict[str, Any] = {
        "Sid": "DenyComprehendInRegionsWithoutPosture",
        "Effect": "Deny",
        "Action": actions,
        "Resource": "*",
    }
    if elsewhere_open:
        statement["Condition"] = _regions("StringEquals", sorted(refused))
    elif covered:
        statement["Condition"] = _regions("StringNotEquals", sorted(covered))
    return scopes, statement


@dataclass(frozen=True)
class _Actions:
    """Per member kind, from the operations table: the actions that carry it, those
    that create (not Update*), and the kinds whose API takes a KMS alias."""

    carrying: dict[str, list[str]]
    creating: dict[str, list[str]]
    alias_kinds: frozenset[str]

    @classmethod
    def of(cls, table: OperationsTable) -> _Actions:
        carrying: dict[str, list[str]] = {}
        creating: dict[str, list[str]] = {}
        alias_kinds = set()
        for name, spec in table.specs.items():
            for member in spec.members:
                carrying.setdefault(member.kind, []).append(f"comprehend:{name}")
                if not spec.is_update:
                    creating.setdefault(member.kind, []).append(f"comprehend:{name}")
                if member.accepts_alias:
                    alias_kinds.add(member.kind)
        return cls(carrying, creating, frozenset(alias_kinds))


def _statements(
    actions: _Actions,
    suffix: str,
    scope: dict[str, Any],
    posture: EffectivePosture,
    notes: list[str],
) -> list[dict[str, Any]]:
    carrying, creating, alias_kinds = actions.carrying, actions.creating, actions.alias_kinds
    out: list[dict[str, Any]] = []

    def deny(sid: str, actions: list[str], condition: dict[str, Any]) -> None:
        if actions:
            out.append(
                {
                    "Sid": f"Deny{sid}{suffix}",
                    "Effect": "Deny",
                    "Action": sorted(set(actions)),
                    "Resource": "*",
                    "Condition": _merge(condition, scope),
                }
            )

    if posture.vpc is not None:
        approved = {
            "Subnets": posture.vpc.subnets,
            "SecurityGroupIds": posture.vpc.security_group_ids,
        }
        for part, key in VPC_CONDITION_KEYS.items():
            name = key.split(":")[1]
            deny(f"Missing{name}", creating.get("vpc", []), {"Null": {key: "true"}})
            deny(
                f"Unapproved{name}",
                carrying.get("vpc", []),
                {"ForAnyValue:StringNotEquals": {key: sorted(approved[part])}},
            )
    for kind, key in KMS_CONDITION_KEYS.items():
        keys = posture.approved_keys.get(kind)
        if keys is None:
            continue
        name = key.split(":")[1]
        if posture.default_key(kind):
            deny(f"Missing{name}", creating.get(kind, []), {"Null": {key: "true"}})
        arns = _policy_arns(keys, kind in alias_kinds, posture, notes)
        # ArnNotEquals alone is true when the key is absent (a negated operator):
        # Null false keeps it to requests that name a key.
        deny(
            f"Unapproved{name}",
            carrying.get(kind, []),
            {"ArnNotEquals": {key: arns}, "Null": {key: "false"}},
        )
    if posture.iam is not None:
        out.append(
            {
                "Sid": f"DenyPassingUnapprovedRoleToComprehend{suffix}",
                "Effect": "Deny",
                "Action": "iam:PassRole",
                "NotResource": sorted(posture.iam.data_access_roles),
                "Condition": _merge(
                    {"StringEquals": {"iam:PassedToService": COMPREHEND_PRINCIPAL}}, scope
                ),
            }
        )
    return out


def _policy_arns(
    keys: frozenset[str], accepts_alias: bool, posture: EffectivePosture, notes: list[str]
) -> list[str]:
    """The approved keys as ARNs; aliases only where the API takes one."""
    arns = set()
    for text in keys:
        ref = parse_kms(text)
        if ref is None or (ref.form != "key_arn" and not accepts_alias):
            continue
        if ref.form == "alias_name":
            home = next((r for r in _arns(posture) if r.form == "key_arn"), None)
            partition, region, account = (
                (home.partition, home.region, home.account) if home else ("aws", "*", "*")
            )
            text = f"arn:{partition}:kms:{region}:{account}:{ref.id}"
            notes.append(f"Alias name {ref.text} is written as {text}.")
        arns.add(text)
    return sorted(arns)


def _arns(posture: EffectivePosture) -> list[Any]:
    also = posture.kms.also_allowed if posture.kms else ()
    texts = [*posture.default_keys.values(), *also]
    return [ref for ref in (parse_kms(t) for t in texts) if ref and ref.region]


def _merge_regions(statements: list[dict[str, Any]], suffixes: list[str]) -> list[dict[str, Any]]:
    """One statement for regions whose statements differ only in the region they name."""
    merged: dict[str, dict[str, Any]] = {}
    for statement in statements:
        regions = statement.get("Condition", {}).get("StringEquals", {}).get("aws:RequestedRegion")
        sid = statement["Sid"]
        base = next((sid.removesuffix(x) for x in suffixes if x and sid.endswith(x)), sid)
        if regions is None:
            merged[sid] = statement
            continue
        shape = {**statement, "Sid": base, "Condition": _merge(statement["Condition"], {})}
        del shape["Condition"]["StringEquals"]["aws:RequestedRegion"]
        key = json.dumps(shape, sort_keys=True)
        if key in merged:
            known = merged[key]["Condition"]["StringEquals"]["aws:RequestedRegion"]
            known[:] = sorted({*known, *regions})
            merged[key]["Sid"] = base
        else:
            merged[key] = {**statement, "Condition": _merge(statement["Condition"], {})}
            merged[key]["Condition"]["StringEquals"]["aws:RequestedRegion"] = list(regions)
    return list(merged.values())


def _regions(operator: str, regions: list[str]) -> dict[str, Any]:
    return {operator: {"aws:RequestedRegion": regions}}


def _merge(condition: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    merged = {operator: dict(keys) for operator, keys in condition.items()}
    for operator, keys in scope.items():
        merged.setdefault(operator, {}).update(keys)
    return merged


def _camel(region: str) -> str:
    return "".join(part.capitalize() for part in region.split("-"))


def _compact_size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def _pack(statements: list[dict[str, Any]], kind: Kind) -> list[dict[str, Any]]:
    """Statements into as few documents as the size limit allows, in order."""
    limit = SIZE_LIMITS[kind]
    documents: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for statement in statements:
        alone = {"Version": "2012-10-17", "Statement": [statement]}
        if _compact_size(alone) > limit:
            raise PostureError(
                f"statement {statement['Sid']} alone is {_compact_size(alone)} characters, over "
                f"the {limit}-character {kind} limit: approve fewer values"
            )
        if (
            current
            and _compact_size({"Version": "2012-10-17", "Statement": [*current, statement]}) > limit
        ):
            documents.append({"Version": "2012-10-17", "Statement": current})
            current = []
        current.append(statement)
    if current or not documents:
        documents.append({"Version": "2012-10-17", "Statement": current})
    return documents
