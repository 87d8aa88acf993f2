"""How a policy is written: action wildcards, compact JSON, documents packed by size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Generic, Literal, TypeVar

from secure_comprehend._errors import PostureError
from secure_comprehend.decision.operations import default_model

Kind = Literal["identity", "scp"]
# Characters of the compact JSON written: customer managed policy (IAM does not count
# whitespace) and service control policy (Organizations counts every character).
SIZE_LIMITS: dict[str, int] = {"identity": 6144, "scp": 5120}
VERSION = "2012-10-17"  # the policy language's version
DocumentsT = TypeVar("DocumentsT")


@dataclass(frozen=True)
class Policies(Generic[DocumentsT]):
    """Generated IAM documents, and what whoever applies them needs to know.

    Attributes:
        documents: the documents, in the shape the function that made them documents.
        notes: what the documents cannot express, or what to do with them.
    """

    documents: DocumentsT
    notes: tuple[str, ...] = ()


def wildcards(actions: list[str]) -> str | list[str]:
    """The actions, with ``Prefix*`` where it matches exactly some of them among all of
    Comprehend's actions (botocore's model). Trailing wildcards only: an SCP allows no other."""
    wanted = {a.split(":", 1)[1] for a in actions}
    universe = set(default_model()[0].operation_names)
    candidates = {name[:i] + "*" for name in wanted for i in range(1, len(name))}
    valid = {c: {u for u in universe if fnmatchcase(u, c)} for c in candidates}
    valid = {c: m for c, m in valid.items() if len(m) > 1 and m <= wanted}
    chosen: list[str] = []
    left = set(wanted)
    while True:
        best = max(
            (c for c in valid if valid[c] & left),
            key=lambda c: (len(valid[c] & left), -len(c)),
            default=None,
        )
        if best is None or sum(len(n) for n in valid[best] & left) <= len(best):
            break
        chosen.append(best)
        left -= valid[best]
    patterns = sorted(f"comprehend:{p}" for p in [*chosen, *left])
    return patterns[0] if len(patterns) == 1 else patterns


def document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A policy document of ``statements``."""
    return {"Version": VERSION, "Statement": statements}


def compact(document: dict[str, Any]) -> str:
    """A document as written: compact JSON, the text whose length the limits count."""
    return json.dumps(document, separators=(",", ":"))


def _compact_size(statements: list[dict[str, Any]]) -> int:
    return len(compact(document(statements)))


def pack(statements: list[dict[str, Any]], kind: Kind) -> list[dict[str, Any]]:
    """Statements into as few documents as the size limit allows, in order."""
    limit = SIZE_LIMITS[kind]
    documents: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for statement in statements:
        if _compact_size([statement]) > limit:
            raise PostureError(
                f"statement {statement.get('Sid', statement['Action'])} alone is "
                f"{_compact_size([statement])} characters, over "
                f"the {limit}-character {kind} limit: approve fewer values"
            )
        if current and _compact_size([*current, statement]) > limit:
            documents.append(document(current))
            current = []
        current.append(statement)
    if current or not documents:
        documents.append(document(current))
    return documents
