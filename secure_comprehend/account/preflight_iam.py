"""Preflight: the data-access roles exist and trust Comprehend; what they are granted is
judged by ``preflight_grants``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.preflight_grants import (
    Judge,
    Need,
    as_list,
    grants,
    needs,
    policy_json,
)
from secure_comprehend.account.report import Check, Skipped, error_code
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
    for arn in posture.iam.data_access_roles:
        yield from role_checks(
            probe,
            arn,
            report,
            lambda partition, account: needs(posture, partition, probe.region, account),
            absent="role does not exist: create it (see README)",
        )


def role_checks(
    probe: Probe,
    arn: str,
    report: PreflightReport,
    wanted: Callable[[str, str], list[Need]],
    judge: Judge | None = None,
    *,
    absent: str,
) -> Iterator[Check]:
    """One role: it exists (``absent`` says what to do when not), trusts Comprehend, and is
    granted what ``wanted(partition, account)`` lists (``judge`` says the findings)."""
    _, partition, _, _, account, resource = arn.split(":", 5)
    if report.account and account != report.account:
        where = f"role in account {account}: run with credentials of that account"
        yield Check("roles", arn, "SKIPPED", where)
        return
    try:
        role = probe.call("iam", "GetRole", RoleName=resource.rsplit("/", 1)[1])["Role"]
    except Skipped as exc:
        yield Check("roles", arn, "SKIPPED", str(exc))
        return
    except Exception as exc:
        code = error_code(exc)
        if code == "NoSuchEntity":
            report.absent.add(arn)
            yield Check("roles", arn, "FAIL", absent)
        else:
            yield Check("roles", arn, "WARN", f"role could not be read ({code}): not checked")
        return
    yield _trust(arn, policy_json(role.get("AssumeRolePolicyDocument", {})))
    yield from grants(probe, arn, role, wanted(partition, account), judge)


def _trust(arn: str, document: dict[str, Any]) -> Check:
    conditional = False
    for statement in as_list(document.get("Statement")):
        principal = statement.get("Principal", {})
        services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
        actions = as_list(statement.get("Action"))
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
            if test is None or not all(test(str(v)) for v in as_list(values)):
                return False
    return True
