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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from secure_comprehend._errors import PostureError
from secure_comprehend._ids import parse_kms
from secure_comprehend._operations import CORE_KINDS, OperationsTable, default_model
from secure_comprehend._policy_text import SIZE_LIMITS, Kind, pack, wildcards

if TYPE_CHECKING:
    from collections.abc import Iterable

    from secure_comprehend._posture import EffectivePosture, Posture

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


@dataclass
class PolicySet:
    """The documents, and what a reader of them needs to know."""

    documents: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


@overload
def iam_policy(
    posture: Posture, *, kind: Kind = "identity", region: str | None = None
) -> list[dict[str, Any]]: ...
@overload
def iam_policy(
    posture: Posture, *, kind: Literal["data-access-role"], region: str | None = None
) -> dict[str, dict[str, Any]]: ...
@overload
def iam_policy(
    posture: Posture, *, kind: Literal["key-policy"], region: str | None = None
) -> dict[str, list[dict[str, Any]]]: ...
def iam_policy(
    posture: Posture, *, kind: str = "identity", region: str | None = None
) -> list[dict[str, Any]] | dict[str, Any]:
    """The posture as IAM documents: the Deny-only twin, or what the account needs.

    Args:
        posture: the posture to export.
        kind: ``identity`` (customer managed policies, 6,144 characters each) or
            ``scp`` (service control policies, 5,120 characters each): Deny-only
            documents that make AWS enforce the posture. ``data-access-role``: per role
            ARN, its ``TrustPolicy`` and ``PermissionsPolicy``. ``key-policy``: per key
            ARN, the statements its key policy needs so the roles can use it.
        region: only this region's effective posture; ``None`` covers every region the
            posture names (and, for the Deny kinds, denies the covered actions in all others).

    Returns:
        identity/scp: one document, or several when one would exceed the size limit.
        data-access-role and key-policy: documents keyed by role or key ARN.

    Raises:
        PostureError: the posture is not valid for ``region``, lacks what the kind needs,
            or a statement alone exceeds the size limit.
        ValueError: an unknown kind.
    """
    from secure_comprehend._posture import require_posture

    checked = require_posture(posture)
    if kind == "data-access-role":
        from secure_comprehend._provisioning import data_access_role

        return data_access_role(checked, region)[0]
    if kind == "key-policy":
        from secure_comprehend._provisioning import key_policy

        return key_policy(checked, region)[0]
    return build_policy(checked, kind=kind, region=region).documents  # type: ignore[arg-type]


def build_policy(
    posture: Posture, *, kind: Kind = "identity", region: str | None = None
) -> PolicySet:
    """``iam_policy()`` with the notes the CLI prints beside the documents."""
    if kind not in SIZE_LIMITS:
        kinds = [*sorted(SIZE_LIMITS), "data-access-role", "key-policy"]
        raise ValueError(f"kind must be one of {kinds}, not {kind!r}")
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
    if posture.s3 is not None:
        notes.append(
            "Comprehend has no condition key for S3 URIs: the [s3] data perimeter is enforced by "
            "the client and by the data-access role's S3 permissions (policy --kind "
            "data-access-role), not by these documents."
        )
    if posture.models is not None:
        notes.append(
            "No condition key says how a model was trained or whose it is: [models] is enforced "
            "by the client; PutResourcePolicy is denied here unless allow_cross_account_policies, "
            "but a ModelPolicy given to CreateDocumentClassifier or CreateEntityRecognizer has no "
            "condition key and is refused by the client only."
        )
    scopes, uncovered = _scopes(posture, region, table, notes)
    statements = _statements(_Actions.of(table), scopes, notes)
    if posture.models is not None and not posture.models.allow_cross_account_policies:
        statements.append(
            {
                "Sid": "DenySharingModelsAcrossAccounts",
                "Effect": "Deny",
                "Action": "comprehend:PutResourcePolicy",
                "Resource": "*",
            }
        )
    if uncovered is not None:
        statements.append(uncovered)
    if any("*" in a for s in statements for a in _listed(s["Action"])):
        notes.append(
            "Action wildcards (Start*, ...) match exactly the intended Comprehend actions today; "
            "a future action matching one would be covered by its statement too."
        )
    if kind == "scp":  # every character of an SCP counts, and a Sid is optional there
        statements = [{k: v for k, v in s.items() if k != "Sid"} for s in statements]
        notes.append(
            "SCP statements carry no Sid (every character counts); the identity kind has the "
            "same statements with Sids. Organizations attaches at most 5 SCPs to one target."
        )
    return PolicySet(pack(statements, kind), notes)


Scope = tuple[str, dict[str, Any], "EffectivePosture"]


def _scopes(
    posture: Posture, region: str | None, table: OperationsTable, notes: list[str]
) -> tuple[list[Scope], dict[str, Any] | None]:
    """The region scopes, and the statement that closes the regions none covers."""
    if region is not None:
        notes.append(
            f"Scoped to {region}: other regions are not covered by these documents, except that "
            f"iam:PassRole is denied for every role but {region}'s in every region (a PassRole "
            "check need not carry aws:RequestedRegion): combine region documents only when "
            "their roles agree, or export without --region."
        )
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
    actions = sorted(f"comprehend:{name}" for name, spec in table.specs.items() if spec.core)
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
        "Action": wildcards(actions),
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
            for member in (m for m in spec.members if m.kind in CORE_KINDS):
                carrying.setdefault(member.kind, []).append(f"comprehend:{name}")
                if not spec.is_update:
                    creating.setdefault(member.kind, []).append(f"comprehend:{name}")
                if member.accepts_alias:
                    alias_kinds.add(member.kind)
        return cls(carrying, creating, frozenset(alias_kinds))


RR = "aws:RequestedRegion"


def _statements(actions: _Actions, scopes: list[Scope], notes: list[str]) -> list[dict[str, Any]]:
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
            return _regions(
                "StringEquals", sorted(r for s in explicit for r in s[1]["StringEquals"][RR])
            )
        lacking = [s for s in scopes if s not in configuring]  # true when absent: fails closed
        return _regions(
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
                (_policy_arns(s[2].approved_keys[kind], kind in alias_kinds, s[2], notes), s)
                for s in with_keys
            ]
        )
        for arns, group in groups:
            # ArnNotEquals alone is true when the key is absent (a negated operator):
            # Null false keeps it to requests that name a key.
            deny(
                f"Unapproved{name}{suffix(group, len(groups))}",
                carrying.get(kind, []),
                {"ArnNotEquals": {key: arns}, "Null": {key: "false"}},
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


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _regions(operator: str, regions: list[str]) -> dict[str, Any]:
    return {operator: {"aws:RequestedRegion": regions}}


def _merge(condition: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    merged = {operator: dict(keys) for operator, keys in condition.items()}
    for operator, keys in scope.items():
        merged.setdefault(operator, {}).update(keys)
    return merged


def _camel(region: str) -> str:
    return "".join(part.capitalize() for part in region.split("-"))
