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
from secure_comprehend.decision.operations import OperationsTable, default_model
from secure_comprehend.policy.statements import (
    Actions,
    Scope,
    deny_statements,
    key_refs,
    listed,
    region_condition,
)
from secure_comprehend.policy.text import SIZE_LIMITS, Kind, pack, wildcards

if TYPE_CHECKING:
    from secure_comprehend.posture.model import Posture


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
    from secure_comprehend.posture.model import require_posture

    checked = require_posture(posture)
    if kind == "data-access-role":
        from secure_comprehend.policy.provisioning import data_access_role

        return data_access_role(checked, region)[0]
    if kind == "key-policy":
        from secure_comprehend.policy.provisioning import key_policy

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
    statements = deny_statements(Actions.of(table), scopes, notes)
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
    if any("*" in a for s in statements for a in listed(s["Action"])):
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
            (_camel(region), region_condition("StringEquals", [region]), posture.effective(region))
        ], None
    scopes: list[Scope] = []
    covered: list[str] = []
    refused: list[str] = []

    def cover(name: str) -> None:
        try:
            scopes.append(
                (_camel(name), region_condition("StringEquals", [name]), posture.effective(name))
            )
            covered.append(name)
        except PostureError as exc:
            refused.append(name)
            notes.append(f"{name} is treated as a region without posture: {exc}")

    for name in sorted(posture.regions):
        cover(name)
    top = posture.top_level()
    elsewhere_open = False
    if top is not None:
        homes = sorted({ref.region for ref in key_refs(top) if ref.region})
        if not homes:  # nothing regional at the top level: it holds wherever no section overrides
            scope = (
                region_condition("StringNotEquals", [*covered, *refused]) if posture.regions else {}
            )
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
        statement["Condition"] = region_condition("StringEquals", sorted(refused))
    elif covered:
        statement["Condition"] = region_condition("StringNotEquals", sorted(covered))
    return scopes, statement


def _camel(region: str) -> str:
    return "".join(part.capitalize() for part in region.split("-"))
