"""Parse and classify the identifiers a posture and a request carry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_PARTITION = r"aws(?:-[a-z]+(?:-[a-z]+)*)?"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_ACCOUNT = r"\d{12}"
_KEY_ID = r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_ALIAS_NAME = r"alias/[A-Za-z0-9/_-]{1,250}"

# Every pattern is matched whole (``fullmatch``) and ASCII only: ``$`` would admit a
# trailing newline (a mounted secret's), and Unicode ``\d``/``\w`` fullwidth digits.
KEY_ID_RE = re.compile(_KEY_ID, re.ASCII)
KEY_ARN_RE = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):kms:(?P<region>{_REGION}):(?P<account>{_ACCOUNT})"
    rf":key/(?P<id>{_KEY_ID})",
    re.ASCII,
)
ALIAS_ARN_RE = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):kms:(?P<region>{_REGION}):(?P<account>{_ACCOUNT})"
    rf":(?P<id>{_ALIAS_NAME})",
    re.ASCII,
)
ALIAS_NAME_RE = re.compile(_ALIAS_NAME, re.ASCII)
ROLE_ARN_RE = re.compile(
    rf"arn:(?P<partition>{_PARTITION}):iam::(?P<account>{_ACCOUNT}):role/[\w+=,.@/-]{{1,512}}",
    re.ASCII,
)
SUBNET_RE = re.compile(r"subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})", re.ASCII)
SECURITY_GROUP_RE = re.compile(r"sg-(?:[0-9a-f]{8}|[0-9a-f]{17})", re.ASCII)

KMS_MAX_LEN = 2048  # shape KmsKeyId

KeyForm = Literal["key_arn", "alias_arn", "key_id", "alias_name"]


@dataclass(frozen=True)
class KmsRef:
    """A KMS key reference taken apart: its form and, for ARNs, where it lives."""

    text: str
    form: KeyForm
    id: str  # key ID or alias name ("alias/...")
    partition: str | None = None
    region: str | None = None
    account: str | None = None


def parse_kms(text: str) -> KmsRef | None:
    """Classify a KMS key reference; None when it is no form KMS accepts."""
    arn = KEY_ARN_RE.fullmatch(text)
    form: KeyForm = "key_arn"
    if arn is None:
        arn = ALIAS_ARN_RE.fullmatch(text)
        form = "alias_arn"
    if arn is not None:
        return KmsRef(text, form, arn["id"], arn["partition"], arn["region"], arn["account"])
    if KEY_ID_RE.fullmatch(text):
        return KmsRef(text, "key_id", text)
    if ALIAS_NAME_RE.fullmatch(text):
        return KmsRef(text, "alias_name", text)
    return None
