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
from secure_comprehend.policy.text import SIZE_LIMITS, Kind, Policies, pack, wildcards
from secure_comprehend.posture.model import require_posture

if TYPE_CHECKING:
    from secure_comprehend.posture.model import Posture


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
    """The documents of ``deny_policies``, ``data_access_role_policies`` or ``key_policies``
    by ``kind`` (``identity``, ``scp``, ``data-access-role``, ``key-policy``), without their
    notes. Kept for callers of the first version; each of those functions says more.

    Raises:
        PostureError: as the function of that kind.
        ValueError: an unknown kind.
    """
    if kind == "data-access-role":
        return data_access_role_policies(posture, region=region).documents
    if kind == "key-policy":
        return key_policies(posture, region=region).documents
    if kind not in SIZE_LIMITS:
        kinds = [*sorted(SIZE_LIMITS), "data-access-role", "key-policy"]
        raise ValueError(f"kind must be one of {kinds}, not {kind!r}")
    return deny_policies(posture, scp=kind == "scp", region=region).documents


def data_access_role_policies(
    posture: Posture, *, region: str | None = None
) -> Policies[dict[str, dict[str, Any]]]:
    """What each data-access role needs so that jobs inside the posture succeed.

    Args:
        posture: the posture.
        region: only this region's effective posture; ``None``: every region it names.

    Returns:
        Per role ARN, ``{"TrustPolicy": ..., "PermissionsPolicy": ...}``, and notes.

    Raises:
        PostureError: the posture names no data-access role, or a document is over its limit.
        TypeError: ``posture`` is not a Posture.
    """
    from secure_comprehend.policy.provisioning import data_access_role

    documents, notes = data_access_role(require_posture(posture), region)
    return Policies(documents, tuple(notes))


def key_policies(
    posture: Posture, *, region: str | None = None
) -> Policies[dict[str, list[dict[str, Any]]]]:
    """The statements each KMS key's policy needs so the data-access roles can use it.

    Args:
        posture: the posture.
        region: only this region's effective posture; ``None``: every region it names.

    Returns:
        Per key ARN, the statements to add to its key policy, and notes.

    Raises:
        PostureError: the posture names no key ARN or no data-access role.
        TypeError: ``posture`` is not a Posture.
    """
    from secure_comprehend.policy.provisioning import key_policy

    documents, notes = key_policy(require_posture(posture), region)
    return Policies(documents, tuple(notes))


def posture_reader_policy(source: str, *, region: str | None = None) -> Policies[dict[str, Any]]:
    """The identity policy that lets a reader read the fleet posture ``source``, and nothing else.

    Args:
        source: a fleet source (``ssm:/org/posture``, ``secretsmanager:NAME``,
            ``appconfig:APP/ENV/PROFILE``, ``s3://BUCKET/KEY``).
        region: the one region it is read in; ``None``: every region.

    Returns:
        One policy document, and notes.

    Raises:
        PostureError: ``source`` is not a fleet source, or is malformed.
    """
    from secure_comprehend.policy.reader import reader_policy
    from secure_comprehend.posture.fleet.sources import FleetSource
    from secure_comprehend.posture.regions import check_region

    parsed = FleetSource.parse(source, "posture_reader_policy()")
    if parsed is None:
        raise PostureError(
            f"{source!r} is not a fleet source: ssm:/path/name, secretsmanager:NAME, "
            "appconfig:APP/ENV/PROFILE or s3://BUCKET/KEY"
        )
    checked = check_region(region, "region") if region else None
    document, notes = reader_policy(parsed, checked)
    return Policies(document, tuple(notes))


def deny_policies(
    posture: Posture, *, scp: bool = False, region: str | None = None
) -> Policies[list[dict[str, Any]]]:
    """The posture as Deny-only documents, so that AWS refuses what the client refuses.

    Args:
        posture: the posture.
        scp: service control policies (5,120 characters each, no Sids) instead of customer
            managed identity policies (6,144 characters each).
        region: only this region's effective posture; ``None``: every region the posture
            names, and the covered actions denied in all others.

    Returns:
        One document, or several when one would exceed the size limit, and notes on what
        a policy cannot express.

    Raises:
        PostureError: the posture is not valid for ``region``, or a statement alone exceeds
            the size limit.
        TypeError: ``posture`` is not a Posture.
    """
    posture = require_posture(posture)
    kind: Kind = "scp" if scp else "identity"
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
    if posture.mode != "enforce":
        notes.append(
            f"The posture is in {posture.mode} mode: its clients send requests outside it. "
            "Attached, these documents refuse them at AWS (403 AccessDenied) and can break "
            "jobs: attach them when you turn on enforce."
        )
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
    return Policies(pack(statements, kind), tuple(notes))


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
