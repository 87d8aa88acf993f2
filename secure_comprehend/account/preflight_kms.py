"""Preflight: the posture's KMS keys, and the key policies of keys in other accounts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.report import Check, Skipped, error_code
from secure_comprehend.posture.ids import ROLE_ARN_RE, parse_kms

if TYPE_CHECKING:
    from secure_comprehend.account.report import PreflightReport, Probe
    from secure_comprehend.posture.model import EffectivePosture


def _configured(posture: EffectivePosture) -> list[tuple[str, str]]:
    """(what, key reference) for every default key and every also_allowed entry."""
    keys = [(kind.replace("_", " "), key) for kind, key in posture.default_keys.items()]
    also = posture.kms.also_allowed if posture.kms else ()
    return keys + [("also-allowed key", key) for key in also]


def keys(probe: Probe, posture: EffectivePosture, report: PreflightReport) -> Iterator[Check]:
    """Each key exists, is enabled, symmetric, customer managed and in the region."""
    configured = _configured(posture)
    if not configured:
        yield Check("kms", "-", "SKIPPED", "no [kms] keys in the posture")
        return
    for what, key in configured:
        try:
            meta = probe.call("kms", "DescribeKey", KeyId=key)["KeyMetadata"]
        except Skipped as exc:
            yield Check("kms", key, "SKIPPED", str(exc))
            continue
        except Exception as exc:  # NotFoundException, a key in an account we cannot see, ...
            code = error_code(exc)
            yield Check("kms", key, "FAIL", f"{what} cannot be described: {code}")
            continue
        yield _key_check(what, key, meta, probe.region)
        owner = parse_kms(str(meta.get("Arn", "")))
        if owner is not None and report.account and owner.account != report.account:
            yield Check(
                "kms",
                key,
                "WARN",
                f"{what} is in account {owner.account}, not {report.account}: its key policy "
                "must admit the data-access roles (see key policy)",
            )


def _key_check(what: str, key: str, meta: dict[str, Any], region: str) -> Check:
    problems = []
    state = meta.get("KeyState")
    if state == "PendingDeletion":
        problems.append(f"is pending deletion (deleted on {meta.get('DeletionDate')})")
    elif state != "Enabled":
        problems.append(f"is {state}, not Enabled")
    if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append(f"is {meta['KeySpec']}, not SYMMETRIC_DEFAULT")
    if meta.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        problems.append(f"has usage {meta['KeyUsage']}, not ENCRYPT_DECRYPT")
    if meta.get("KeyManager") != "CUSTOMER":
        problems.append(
            f"is managed by {meta.get('KeyManager')}: Comprehend needs a customer managed key"
        )
    arn = str(meta.get("Arn", ""))
    ref = parse_kms(arn)
    if ref is not None and ref.region != region:
        problems.append(f"is in {ref.region}, not {region}")
    if problems:
        return Check("kms", key, "FAIL", f"{what} " + "; ".join(problems))
    target = f" (alias of {arn})" if "alias/" in key else ""
    return Check("kms", key, "PASS", f"{what} enabled, symmetric, customer managed{target}")


def key_policies(
    probe: Probe, posture: EffectivePosture, report: PreflightReport
) -> Iterator[Check]:
    """Each key's policy admits each data-access role, by name or through its account.

    A key policy that grants the role's account root delegates to IAM (the role's own
    policies, checked under "roles"); one that names the role grants it directly. An
    alias is read through the key it names; a role found missing is SKIPPED.
    """
    role_accounts = {
        role: match["account"]
        for role in sorted(posture.roles)
        if (match := ROLE_ARN_RE.fullmatch(role))
    }
    keys: dict[str, str] = {}  # each key once, named for its first use
    for what, key in _configured(posture):
        if key.startswith("arn:"):
            keys.setdefault(key, what)
    if not keys or not role_accounts:
        yield Check("key policy", "-", "SKIPPED", "needs both [kms] key ARNs and [iam] roles")
        return
    for key, what in keys.items():
        try:
            target = key
            if ":alias/" in key:  # GetKeyPolicy takes a key, not an alias: resolve it first
                target = probe.call("kms", "DescribeKey", KeyId=key)["KeyMetadata"]["Arn"]
            policy = probe.once("kms", "GetKeyPolicy", KeyId=target, PolicyName="default")["Policy"]
        except Skipped as exc:
            yield Check(
                "key policy", key, "SKIPPED", f"{exc}; cannot see whether it admits the roles"
            )
            continue
        except Exception as exc:
            code = error_code(exc)
            why = (
                "the key does not exist (see kms)"
                if code == "NotFoundException"
                else f"key policy unreadable ({code}): needs kms:DescribeKey and kms:GetKeyPolicy"
            )
            yield Check("key policy", key, "SKIPPED", why)
            continue
        principals = _allowed_principals(json.loads(policy))
        for role, account in role_accounts.items():
            if role in report.absent:
                yield Check("key policy", key, "SKIPPED", f"{role} does not exist (see roles)")
            elif role in principals:
                yield Check("key policy", key, "PASS", f"{what} policy names {role}")
            elif account in principals or any(p.endswith(f":{account}:root") for p in principals):
                yield Check(
                    "key policy",
                    key,
                    "PASS",
                    f"{what} policy delegates to account {account}, so {role}'s own "
                    "policies decide",
                )
            else:
                yield Check(
                    "key policy",
                    key,
                    "FAIL",
                    f"{what} policy names neither {role} nor its account {account}. Fix: add "
                    "the statement from 'secure-comprehend policy --kind key-policy'",
                )


def _allowed_principals(policy: dict[str, Any]) -> set[str]:
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        values = principal.get("AWS", []) if isinstance(principal, dict) else principal
        found.update([values] if isinstance(values, str) else values)
    return found
