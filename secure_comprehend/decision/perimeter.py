"""What a request points at: the S3 data perimeter and the models it uses. Pure.

- ``[s3]``: every S3 URI member (found by shape in botocore's model, inside lists
  too) must name an approved bucket; an S3-looking member the walk does not
  understand is refused.
- ``[models]``: a model ARN must belong to an allowed account (``allowed_accounts``
  and the data-access roles' accounts), and resource policies that share a model
  across accounts are refused unless ``allow_cross_account_policies``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import Violation

if TYPE_CHECKING:
    from secure_comprehend.decision.spec import OperationSpec
    from secure_comprehend.posture.model import EffectivePosture

S3_URI_RE = re.compile(
    r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/.*)?", re.ASCII | re.S
)
MODEL_ARN_RE = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):comprehend:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<type>document-classifier|entity-recognizer|flywheel)/[A-Za-z0-9](?:-*[A-Za-z0-9])*"
    r"(?:/version/[A-Za-z0-9](?:-*[A-Za-z0-9])*)?",
    re.ASCII,
)
_ABSENT = object()


def values_at(params: Any, path: tuple[str, ...], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path with list indexes, value) for every value at ``path``; lists expanded."""
    if not path:
        yield prefix, params
        return
    name, rest = path[0], path[1:]
    if not isinstance(params, Mapping):
        return
    is_list = name.endswith("[]")
    value = params.get(name.removesuffix("[]"), _ABSENT)
    if value is _ABSENT:
        return
    here = f"{prefix}.{name.removesuffix('[]')}".lstrip(".")
    if not is_list:
        yield from values_at(value, rest, here)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from values_at(item, rest, f"{here}[{i}]")
    else:
        yield here, value  # not a list: checked as it is (a violation below)


def perimeter(
    spec: OperationSpec, params: Mapping[str, Any], posture: EffectivePosture
) -> list[Violation]:
    """Every S3 and model violation of one request."""
    out: list[Violation] = []
    s3, models = posture.s3, posture.models
    not_understood = (spec.unknown_s3 if s3 is not None else ()) + (
        spec.unknown_models if models is not None else ()
    )
    out += [
        Violation(spec.name, path, None, "member this version does not understand; refused")
        for path in not_understood
    ]
    for member in spec.members:
        if member.kind == "s3" and s3 is not None:
            for path, value in values_at(params, member.path):
                match = S3_URI_RE.fullmatch(value) if isinstance(value, str) else None
                if match is None:
                    out.append(Violation(spec.name, path, value, "malformed S3 URI"))
                elif not s3.approves(match["bucket"]):
                    out.append(
                        Violation(
                            spec.name,
                            path,
                            value,
                            f"bucket {match['bucket']} is outside the data perimeter",
                            s3.allowed_buckets,
                        )
                    )
        elif member.kind == "model" and models is not None:
            for path, value in values_at(params, member.path):
                reason = model_problem(value, posture)
                if reason:
                    out.append(
                        Violation(
                            spec.name, path, value, reason, tuple(sorted(posture.model_accounts))
                        )
                    )
        elif (
            member.kind == "model_policy"
            and models is not None
            and not models.allow_cross_account_policies
            and params.get(member.path[0]) is not None
        ):
            out.append(
                Violation(
                    spec.name,
                    member.dotted,
                    None,
                    "a resource policy shares a model across accounts "
                    "([models] allow_cross_account_policies is false)",
                )
            )
    return out


def model_problem(value: Any, posture: EffectivePosture) -> str | None:
    """Why a model ARN may not be used, or None."""
    match = MODEL_ARN_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "malformed: not a document classifier, entity recognizer or flywheel ARN"
    if match["account"] not in posture.model_accounts:
        return f"a model of account {match['account']}, not one of the allowed accounts"
    return None
