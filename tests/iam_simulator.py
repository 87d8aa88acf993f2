"""A small IAM evaluator for Deny statements, written from the AWS documentation.

Independent of secure_comprehend: it knows the condition operators the
generated policies use and the documented rules for them:
- several operators, or several keys under one operator: AND; several values: OR,
  and NOR for a negated operator;
- a negated operator (StringNotEquals, ArnNotEquals) is true when its key is absent;
- ForAnyValue is false when the key is absent or empty;
- Null: "true" holds when the key is absent, "false" when it is present;
- Arn operators match each colon-separated part, with * and ? wildcards.
Any other operator is an error, so a policy using one cannot pass by accident.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

Context = dict[str, Any]  # key -> str (single-valued) or list[str] (multi-valued)


def _values(v: Any) -> list[str]:
    return v if isinstance(v, list) else [v]


def _arn_match(pattern: str, value: str) -> bool:
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(fnmatchcase(b, a) for a, b in zip(p, v, strict=True))


def _operator(name: str, key: str, wanted: Any, context: Context) -> bool:
    present = key in context
    value = context.get(key)
    wanted = _values(wanted)
    if name == "Null":
        return (not present) if wanted == ["true"] else present
    if name == "StringEquals":
        return present and any(str(value) == w for w in wanted)
    if name == "StringNotEquals":
        return not present or all(str(value) != w for w in wanted)
    if name == "ArnNotEquals":
        return not present or not any(_arn_match(w, str(value)) for w in wanted)
    if name == "ForAnyValue:StringNotEquals":
        return present and any(all(item != w for w in wanted) for item in _values(value))
    raise AssertionError(f"operator {name} is not modelled")


def _matches(statement: dict[str, Any], action: str, resource: str, context: Context) -> bool:
    # action names match case-insensitively, with * and ? wildcards
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _values(statement["Action"])):
        return False
    if "NotResource" in statement and resource in _values(statement["NotResource"]):
        return False
    if "Resource" in statement and statement["Resource"] != "*":
        return False
    return all(
        _operator(op, key, wanted, context)
        for op, keys in statement.get("Condition", {}).items()
        for key, wanted in keys.items()
    )


def denied(
    documents: list[dict[str, Any]], action: str, context: Context, resource: str = "*"
) -> list[str]:
    """The Sids (or, without one, the position) of every Deny statement that applies."""
    return [
        s.get("Sid", f"statement {d}.{i}")
        for d, doc in enumerate(documents)
        for i, s in enumerate(doc["Statement"])
        if s["Effect"] == "Deny" and _matches(s, action, resource, context)
    ]


# Identity policies, as iam:SimulatePrincipalPolicy evaluates them (moto lacks that API).


def _condition(op: str, key: str, wanted: Any, context: Context) -> bool | None:
    """Whether a condition holds; None when its key is not in the context."""
    if key not in context:
        return None
    value, wanted = str(context[key]), _values(wanted)
    if op == "StringEquals":
        return value in wanted
    if op == "StringLike":
        return any(fnmatchcase(value, w) for w in wanted)
    if op in ("ArnLike", "ArnEquals"):
        return any(_arn_match(w, value) for w in wanted)
    raise AssertionError(f"operator {op} is not modelled")


def _applies(
    statement: dict[str, Any], action: str, resource: str, context: Context
) -> tuple[bool, list[str]]:
    """Whether an Allow/Deny statement applies, and the condition keys it lacked."""
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _values(statement["Action"])):
        return False, []
    if not any(fnmatchcase(resource, r) for r in _values(statement.get("Resource", "*"))):
        return False, []
    lacking, holds = [], True
    for op, keys in statement.get("Condition", {}).items():
        for key, wanted in keys.items():
            found = _condition(op, key, wanted, context)
            if found is None:
                lacking.append(key)
            holds = holds and bool(found)
    return holds and not lacking, lacking


def evaluate(
    statements: list[dict[str, Any]], action: str, resource: str, context: Context
) -> tuple[str, list[str]]:
    """(allowed | explicitDeny | implicitDeny, condition keys missing from the context)."""
    allowed, lacking = False, []
    for statement in statements:
        applies, missing = _applies(statement, action, resource, context)
        lacking += missing
        if applies and statement["Effect"] == "Deny":
            return "explicitDeny", []
        allowed = allowed or (applies and statement["Effect"] == "Allow")
    return ("allowed", []) if allowed else ("implicitDeny", sorted(set(lacking)))


def answer_simulations(session: Any, iam: Any) -> None:
    """Answer ``session``'s iam:SimulatePrincipalPolicy calls at ``before-call``, as
    botocore's Stubber does, from the role's policies and boundary as ``iam`` (moto)
    holds them; its other IAM calls go on to moto."""
    from botocore.awsrequest import AWSResponse

    def documents(role: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        name = role.rsplit("/", 1)[1]
        found = []
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            found.append(_policy_document(iam, attached["PolicyArn"]))
        for inline in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            found.append(iam.get_role_policy(RoleName=name, PolicyName=inline)["PolicyDocument"])
        boundary = iam.get_role(RoleName=name)["Role"].get("PermissionsBoundary")
        limit = _policy_document(iam, boundary["PermissionsBoundaryArn"]) if boundary else None
        return [s for d in found for s in _values(d["Statement"])], (
            _values(limit["Statement"]) if limit else None
        )

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["simulated"] = dict(params)  # before-call sees the serialized request

    def simulate(context: dict[str, Any], **_: Any) -> Any:
        params = context["simulated"]
        statements, boundary = documents(params["PolicySourceArn"])
        entries = params.get("ContextEntries", [])
        context = {e["ContextKeyName"]: e["ContextKeyValues"][0] for e in entries}
        granting = _naming(params.get("ResourcePolicy"), params["PolicySourceArn"])
        results = []
        for action in params["ActionNames"]:
            for resource in params.get("ResourceArns", ["*"]):
                decision, lacking = evaluate(statements, action, resource, context)
                if decision == "allowed" and boundary is not None:
                    decision, lacking = evaluate(boundary, action, resource, context)
                if decision == "implicitDeny" and granting:  # the resource's own policy:
                    by_resource = evaluate(granting, action, resource, context)  # same account
                    decision, lacking = (
                        by_resource
                        if by_resource[0] != "implicitDeny"
                        else (
                            decision,
                            lacking,
                        )
                    )
                results.append(
                    {
                        "EvalActionName": action,
                        "EvalResourceName": resource,
                        "EvalDecision": decision,
                        "MissingContextValues": lacking,
                    }
                )
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, None), {
            "EvaluationResults": results,
            "IsTruncated": False,
        }

    session.events.register("before-parameter-build.iam.SimulatePrincipalPolicy", remember)
    session.events.register("before-call.iam.SimulatePrincipalPolicy", simulate)


def _naming(policy: str | None, principal: str) -> list[dict[str, Any]]:
    """The statements of a resource policy that name ``principal`` itself."""
    import json

    found = []
    for statement in _values(json.loads(policy)["Statement"]) if policy else []:
        named = statement.get("Principal", {})
        arns = _values(named.get("AWS", [])) if isinstance(named, dict) else []
        if principal in arns:
            found.append({k: v for k, v in statement.items() if k != "Principal"})
    return found


def _policy_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)[
        "PolicyVersion"
    ]["Document"]
    return document
