"""Fleet posture sources: one posture document in SSM, Secrets Manager, AppConfig or S3.

``fetch`` reads the document a ``FleetSource`` (``fleet.sources``) names, with
the caller's boto3 session. The document is the posture file's TOML, or its JSON
equivalent.

Written here rather than with pydantic-settings' AWS sources or Powertools'
``parameters``: pydantic-settings' sources build their own client (not the
caller's session), read flat key/value pairs rather than one document, and
return no version; Powertools has no S3 source, returns no version or ETag for
``show``/``doctor``, and drops a value when a refresh fails, where we keep the
last good one for a while (``fleet.cache``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from secure_comprehend._errors import PostureError, aws_error_code
from secure_comprehend.posture.documents import parse_document
from secure_comprehend.posture.fleet.sources import OWNER_QUERY, FleetSource

# a fetch answers quickly or not at all: at most 2 attempts of 2 s + 3 s, so a store that
# is down holds the calling thread about 10 s, once per retry pause (the rest get the last
# good posture meanwhile)
_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 3,
    "retries": {"mode": "standard", "total_max_attempts": 2},
}


@dataclass(frozen=True)
class Fetched:
    """A posture document as read: its values, version (or ETag) and when it was read."""

    source: FleetSource
    region: str
    values: dict[str, Any]
    version: str | None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def label(self) -> str:
        """How ``show`` credits a setting of this document."""
        version = f", version {self.version}" if self.version else ""
        return f"{self.source} ({self.region}{version})"


@dataclass
class AppConfigSession:
    """AppConfig's polling protocol: a token per session; an empty answer means unchanged."""

    token: str | None = None
    last: Fetched | None = None


def fetch(
    source: FleetSource,
    session: Any,
    appconfig: AppConfigSession | None = None,
    region: str | None = None,
) -> Fetched:
    """Read and parse the posture document ``source`` names.

    Args:
        source: where the document lives.
        session: the boto3 session whose credentials and region read it.
        appconfig: the polling state of an ``appconfig:`` source, kept between fetches.
        region: the region to read in; None for the ARN's, else the session's.

    Raises:
        PostureError: no region, no credentials, the document cannot be read, or it
            is not a TOML or JSON table. The message names the source.
    """
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    region = source.region or region or session.region_name
    if not region:
        raise PostureError(
            f"posture source {source}: no region to read it from: pass region_name "
            "(--region on the command line), set AWS_DEFAULT_REGION, give the profile a "
            "region, or name the source by its ARN"
        )
    service = "appconfigdata" if source.scheme == "appconfig" else source.scheme
    read_from = source  # for s3, with the bucket's owner to expect
    try:
        aws = session.client(service, region_name=region, config=Config(**_CLIENT_CONFIG))
        if source.scheme == "s3" and source.owner is None:
            read_from = _owned_by_reader(session, source, region)
        text, version = _READERS[source.scheme](aws, read_from, appconfig)
    except ClientError as exc:
        code = aws_error_code(exc) or "error"
        owner = ""
        if source.scheme == "s3" and code in ("AccessDenied", "403"):
            owner = f" (S3 answers so too when the bucket's owner is not {read_from.owner})"
        raise PostureError(
            f"posture source {source} ({region}) could not be read: "
            f"{code}: {exc.response.get('Error', {}).get('Message', exc)}{owner}"
        ) from exc
    except BotoCoreError as exc:  # no credentials, no network, a timeout
        raise PostureError(f"posture source {source} ({region}) could not be read: {exc}") from exc
    if text is None and appconfig is not None and appconfig.last is not None:
        # AppConfig answers nothing when the configuration has not changed
        return Fetched(source, region, appconfig.last.values, appconfig.last.version)
    try:
        values = parse_document(_decode(text or "", source), f"posture source {source}")
        fetched = Fetched(source, region, values, version)
    except PostureError:
        if appconfig is not None:  # poll the whole document again: never "unchanged" from here
            appconfig.token, appconfig.last = None, None
        raise
    if appconfig is not None:
        appconfig.last = fetched
    return fetched


def _decode(data: bytes | str, source: FleetSource) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PostureError(f"posture source {source} is not UTF-8 text: {exc}") from exc


# Each reader answers the document (text, or bytes fetch() decodes), and its version.
Read = tuple["str | bytes | None", str]


def _ssm(aws: Any, source: FleetSource, _: Any) -> Read:
    # a name, or an ARN (which a parameter shared from another account needs)
    parameter = aws.get_parameter(Name=source.location, WithDecryption=True)["Parameter"]
    return parameter["Value"], str(parameter.get("Version", ""))


def _secretsmanager(aws: Any, source: FleetSource, _: Any) -> Read:
    secret = aws.get_secret_value(SecretId=source.location)
    text = secret.get("SecretString")
    return text if text is not None else secret["SecretBinary"], str(secret.get("VersionId", ""))


def _appconfig(aws: Any, source: FleetSource, state: AppConfigSession | None) -> Read:
    from botocore.exceptions import ClientError

    state = state if state is not None else AppConfigSession()
    application, environment, profile = source.location.split("/")
    for attempt in (1, 2):
        if state.token is None:
            state.token = aws.start_configuration_session(
                ApplicationIdentifier=application,
                EnvironmentIdentifier=environment,
                ConfigurationProfileIdentifier=profile,
            )["InitialConfigurationToken"]
        try:
            answer = aws.get_latest_configuration(ConfigurationToken=state.token)
        except ClientError as exc:  # a token lives 24 hours: start a new session once
            if attempt == 2 or aws_error_code(exc) != "BadRequestException":
                raise
            state.token, state.last = None, None
            continue
        state.token = answer["NextPollConfigurationToken"]
        data = answer["Configuration"].read()
        version = str(answer.get("VersionLabel") or "")
        last = state.last
        if not data and last is not None and (not version or version == last.version):
            return None, version  # unchanged since the version this session was sent
        return data, version  # a new version, empty ones too: read, and refused if empty
    raise AssertionError("unreachable")  # pragma: no cover


def _owned_by_reader(session: Any, source: FleetSource, region: str) -> FleetSource:
    """``source`` with the reader's own account as the bucket's owner (asked of STS)."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sts = session.client("sts", region_name=region, config=Config(**_CLIENT_CONFIG))
        account = sts.get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        raise PostureError(
            f"posture source {source} ({region}): S3 bucket names are global, so the "
            f"bucket's owner is checked; asking STS for this account failed ({exc}): name "
            f"the owner in the source, {source}{OWNER_QUERY}ACCOUNT"
        ) from exc
    return replace(source, owner=str(account))


def _s3(aws: Any, source: FleetSource, _: Any) -> Read:
    bucket, _, key = source.location.partition("/")
    # S3 answers 403 when the bucket belongs to another account: never a stranger's document
    answer = aws.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=source.owner)
    with answer["Body"] as body:
        data = body.read()
    version = answer.get("VersionId") or answer.get("ETag", "").strip('"')
    return data, str(version)


_READERS: dict[str, Any] = {
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "appconfig": _appconfig,
    "s3": _s3,
}
