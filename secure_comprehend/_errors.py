"""Errors raised by secure_comprehend.

::

    SecureComprehendError
    ├── PostureError        the posture is missing, unreadable, invalid, or not valid for a region
    └── PostureViolation    a request breaks the posture (also a botocore ClientError, 403)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from secure_comprehend._display import html_table, short_repr


@dataclass(frozen=True)
class Violation:
    """One way a request breaks the posture.

    Attributes:
        operation: the Comprehend operation, e.g. ``StartEntitiesDetectionJob``.
        path: the member path, e.g. ``VpcConfig.Subnets[1]``.
        value: the offending value as given (``None`` when the member is missing).
        reason: why it is refused.
        allowed: what the posture approves for this member.
    """

    operation: str
    path: str
    value: Any
    reason: str
    allowed: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Violation({self})"

    def _repr_html_(self) -> str:
        return html_table(self.operation, _VIOLATION_HEADERS, [_row(self)])

    def __str__(self) -> str:
        allowed = f" (approved: {', '.join(self.allowed)})" if self.allowed else ""
        value = "" if self.value is None else f"={short_repr(self.value)}"
        return f"{self.operation} {self.path}{value}: {self.reason}{allowed}"


_VIOLATION_HEADERS = ("member", "value", "approved", "why")


def _row(violation: Violation) -> tuple[str, object, str, str]:
    shown: object = "(missing)" if violation.value is None else violation.value
    return (violation.path, shown, ", ".join(violation.allowed) or "-", violation.reason)


class SecureComprehendError(Exception):
    """Base of every error this library raises."""


class PostureError(SecureComprehendError, ValueError):
    """The posture is missing, unreadable, invalid, or not valid for the client's region."""


class PostureViolation(SecureComprehendError, ClientError):
    """A request breaks the posture; nothing was sent.

    It is also a ``botocore.exceptions.ClientError`` with the error code
    ``AccessDeniedException`` and HTTP status 403, the answer AWS would give.
    """

    def __init__(self, operation: str, violations: tuple[Violation, ...]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        message = (
            f"secure_comprehend refused {operation}: {len(violations)} posture violation(s); "
            f"nothing was sent\n{lines}"
        )
        response: dict[str, Any] = {
            "Error": {"Code": "AccessDeniedException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        super().__init__(response, operation)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return str(self.response["Error"]["Message"])

    def __repr__(self) -> str:
        return f"PostureViolation({self.operation_name!r}, {len(self.violations)} violation(s))"

    def _repr_html_(self) -> str:
        caption = f"secure_comprehend refused {self.operation_name}: nothing was sent"
        return html_table(caption, _VIOLATION_HEADERS, [_row(v) for v in self.violations])

    def __reduce__(self) -> tuple[type[PostureViolation], tuple[str, tuple[Violation, ...]]]:
        # ClientError.__reduce__ would rebuild a plain ClientError.
        return (PostureViolation, (self.operation_name, self.violations))


# Shown by their public path (secure_comprehend.PostureViolation) in tracebacks and reprs.
for _public in (Violation, SecureComprehendError, PostureError, PostureViolation):
    _public.__module__ = "secure_comprehend"


# What AWS answers a caller that may not make a call (IAM, EC2's own code, KMS, S3).
ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a failed call (botocore's ``ClientError``), else None."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else None
