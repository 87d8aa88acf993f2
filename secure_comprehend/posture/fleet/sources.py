"""Fleet posture source names: ``ssm:/path/name``, ``secretsmanager:name-or-arn``,
``appconfig:application/environment/profile``, ``s3://bucket/key[?owner=ACCOUNT]``.

``FleetSource.parse`` tells a fleet source from a file path, and refuses a misspelt
scheme, a malformed name, a control character or an unknown query (never read as a
file, never as another document). ``fleet.read`` reads what a source names.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from secure_comprehend._errors import PostureError

SCHEMES = ("ssm", "secretsmanager", "appconfig", "s3")
_FORMS = {
    "ssm": "ssm:/path/name (or ssm:NAME, or a parameter ARN)",
    "secretsmanager": "secretsmanager:NAME (or a secret ARN)",
    "appconfig": "appconfig:APPLICATION/ENVIRONMENT/PROFILE",
    "s3": "s3://BUCKET/KEY (or s3://BUCKET/KEY?owner=ACCOUNT for another account's bucket)",
}
_SSM_NAME = re.compile(r"/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*(:[A-Za-z0-9_.\-]+)?", re.ASCII)
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]{1,512}", re.ASCII)
_APPCONFIG_PART = re.compile(r"[A-Za-z0-9_.\-]{1,128}", re.ASCII)
OWNER_QUERY = "?owner="
_QUERY = re.compile(r"\?[A-Za-z][A-Za-z0-9_-]*=")  # a URL query, as in ?versionId=...
_ACCOUNT = re.compile(r"\d{12}", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", re.ASCII)
_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z\-]*):(?P<service>ssm|secretsmanager):(?P<region>[a-z0-9\-]+):"
    r"(?P<account>\d{12}):(?P<resource>.+)",
    re.ASCII,
)
_SCHEME_LIKE = re.compile(r"([A-Za-z][A-Za-z0-9_\-]+):")


@dataclass(frozen=True)
class FleetSource:
    """Where a fleet's posture document lives."""

    scheme: str
    location: str  # what follows "scheme:" (for s3: "bucket/key")
    # s3: the account the bucket must belong to; None: the reader's own (bucket names are
    # global: a deleted bucket's name can be taken by anyone)
    owner: str | None = None

    def __str__(self) -> str:
        if self.scheme != "s3":
            return f"{self.scheme}:{self.location}"
        return f"s3://{self.location}" + (f"{OWNER_QUERY}{self.owner}" if self.owner else "")

    @property
    def region(self) -> str | None:
        """The region an ARN names; None for a name read in the session's region."""
        arn = self.arn_parts()
        return arn["region"] if arn else None

    def arn_parts(self) -> dict[str, str] | None:
        """partition, service, region, account and resource, when named by an ARN."""
        match = _ARN.fullmatch(self.location)
        return match.groupdict() if match else None

    @classmethod
    def parse(cls, text: str, origin: str) -> FleetSource | None:
        """The fleet source ``text`` names, or None for a file path.

        Raises:
            PostureError: ``text`` names a fleet source malformed, or one whose scheme is
                misspelt (``ssm://``, ``S3:/``, ``secretmanager:``): never read as a file.
        """
        if text != text.strip() and FleetSource.parse(text.strip(), origin) is not None:
            raise PostureError(
                f"posture source {text!r} (from {origin}) has leading or trailing whitespace "
                "(a newline pasted in?)"
            )
        if text.startswith("arn:") and text.split(":")[2:3] in (["ssm"], ["secretsmanager"]):
            raise PostureError(
                f"posture source {text!r} (from {origin}): an ARN names its store too: "
                f"{text.split(':')[2]}:{text}"
            )
        match = _SCHEME_LIKE.match(text)
        if match is None:  # a path (C:\\ has a one-letter "scheme": a drive)
            return None
        scheme = match[1]
        if scheme not in SCHEMES:
            close = difflib.get_close_matches(scheme.lower(), SCHEMES, n=1, cutoff=0.75)
            if scheme.lower() in SCHEMES or close:
                meant = scheme.lower() if scheme.lower() in SCHEMES else close[0]
                raise PostureError(
                    f"posture source {text!r} (from {origin}): did you mean {_FORMS[meant]}?"
                )
            return None
        location, owner = text[len(scheme) + 1 :], None
        if scheme == "s3":
            location = location.removeprefix("//")
            location, _, owner = location.partition(OWNER_QUERY)
            if OWNER_QUERY in text and not _ACCOUNT.fullmatch(owner):
                raise PostureError(
                    f"posture source {text!r} (from {origin}): the bucket's owner must be a "
                    f"12-digit account ID, not {owner!r}; the form is {_FORMS[scheme]}"
                )
            query = _QUERY.search(location)
            if query:  # ?OWNER=, ?versionId=: never read silently as part of the key
                raise PostureError(
                    f"posture source {text!r} (from {origin}): {query[0]!r} is not a query "
                    f"it takes (only ?owner=ACCOUNT, in lower case); the form is {_FORMS[scheme]}"
                )
        source = cls(scheme, location, owner or None)
        problem = source._problem(text)
        if problem:
            raise PostureError(
                f"posture source {text!r} (from {origin}) {problem}; the form is {_FORMS[scheme]}"
            )
        return source

    def _problem(self, text: str) -> str | None:
        if text != text.strip():
            return "has leading or trailing whitespace (a newline pasted in?)"
        hidden = next((c for c in text if unicodedata.category(c)[0] == "C"), None)
        if hidden is not None:  # a newline, a tab, an escape, a zero-width space
            return f"contains the control or invisible character {hidden!r} (pasted in?)"
        location, scheme = self.location, self.scheme
        if scheme == "s3" and not text.startswith("s3://"):
            return "must start with s3://"
        arn = _ARN.fullmatch(location)
        if arn is not None:
            if arn["service"] != scheme:
                return f"is an ARN of {arn['service']}, not {scheme}"
            kind = "parameter/" if scheme == "ssm" else "secret:"
            if not arn["resource"].startswith(kind):
                return f"is not a {kind.rstrip('/:')} ARN"
            return None
        if scheme == "ssm" and not _SSM_NAME.fullmatch(location):
            return "is not a parameter name"
        if scheme == "secretsmanager" and not _SECRET_NAME.fullmatch(location):
            return "is not a secret name"
        if scheme == "appconfig":
            parts = location.split("/")
            if len(parts) != 3 or not all(_APPCONFIG_PART.fullmatch(p) for p in parts):
                return "does not name an application, an environment and a profile"
        if scheme == "s3":
            bucket, _, key = location.partition("/")
            if not _BUCKET.fullmatch(bucket) or not key:
                return "does not name a bucket and a key"
        return None
