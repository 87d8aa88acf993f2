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
