"""The final check: a request as botocore serialized it must need no amending.

Pure, like the decision core it builds on: a fast yes when every configured
member is present and approved as sent, else a full ``decide()`` whose
injections and rewrites become violations (something removed or changed the
request after injection).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secure_comprehend._errors import Violation
from secure_comprehend.decision.decide import decide, value_at
from secure_comprehend.decision.members import ABSENT, MAX_SECURITY_GROUPS, MAX_SUBNETS
from secure_comprehend.decision.spec import Member, OperationSpec
from secure_comprehend.posture.kinds import CORE_KINDS
from secure_comprehend.posture.model import EffectivePosture


def final_check(
    spec: OperationSpec, sent: Mapping[str, Any], posture: EffectivePosture
) -> tuple[Violation, ...]:
    """Check a request as botocore serialized it: nothing may still need amending."""
    try:
        if _plainly_compliant(spec, sent, posture):
            return ()
    except TypeError:  # an unhashable value where an ID belongs: decide() names it
        pass
    decision = decide(spec, sent, posture)
    missing = tuple(
        Violation(spec.name, path, None, "missing from the serialized request")
        for path in decision.injected
    )
    bare = tuple(
        Violation(spec.name, path, draft_value, "sent as a bare key ID or alias name, not an ARN")
        for path in decision.rewritten
        for draft_value in [value_at(sent, path)]
    )
    return decision.violations + missing + bare


def _plainly_compliant(
    spec: OperationSpec, sent: Mapping[str, Any], posture: EffectivePosture
) -> bool:
    """A fast yes: every configured member present and approved as sent.

    Only a shortcut: False means "let decide() say", never "refused". True implies
    decide() would find nothing to inject, rewrite or refuse.
    """
    if spec.unknown or posture.s3 is not None or posture.models is not None:
        return False  # the perimeter has no shortcut: decide() checks every URI and model
    for member in spec.members:
        value: Any = sent
        for name in member.path:
            value = value.get(name, ABSENT) if isinstance(value, dict) else ABSENT
        if member.kind == "vpc":
            plain = posture.vpc is None or _plain_vpc(value, posture)
        elif member.kind == "role":
            plain = (
                posture.iam is None
                or value in posture.roles
                or (value is ABSENT and spec.is_update)
            )
        elif member.kind in CORE_KINDS:
            plain = _plain_key(spec, member, value, posture)
        else:
            plain = True
        if not plain:
            return False
    return True


def _plain_vpc(value: Any, posture: EffectivePosture) -> bool:
    """A VpcConfig of the two lists only, within the API's limits, every value approved."""
    if not isinstance(value, dict) or len(value) != 2:
        return False
    subnets, groups = value.get("Subnets"), value.get("SecurityGroupIds")
    return (
        isinstance(subnets, list)
        and isinstance(groups, list)
        and 1 <= len(subnets) <= MAX_SUBNETS
        and 1 <= len(groups) <= MAX_SECURITY_GROUPS
        and posture.subnets.issuperset(subnets)
        and posture.security_groups.issuperset(groups)
    )


def _plain_key(spec: OperationSpec, member: Member, value: Any, posture: EffectivePosture) -> bool:
    """A KMS member present and approved (an alias only where the API takes one), or
    absent where nothing would be injected."""
    approved = posture.approved_keys.get(member.kind)
    if approved is None:
        return True
    if value is ABSENT:
        return spec.is_update or posture.default_key(member.kind) is None
    return value in approved and (member.accepts_alias or "alias/" not in value)
