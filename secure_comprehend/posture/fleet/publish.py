"""Publish a posture file to a fleet source: the writer of what ``fleet.read`` reads.

``posture_file`` finds and validates the posture file to publish, on its own (the
``SECURE_COMPREHEND_*`` variables of the publishing shell are not part of the document:
each reader applies its own). ``publish`` writes the file's text, exactly as validated
(comments included), to SSM Parameter Store, Secrets Manager or S3, and answers the
version written: the one ``show`` and ``doctor`` report once they read it. AppConfig
deploys through its own pipeline: ``appconfig_commands`` answers the AWS CLI commands
that do it, and nothing here writes to AppConfig.

The file is found as ``load_posture`` finds it (``posture.loading``'s own helpers), read
once, parsed with the readers' own ``parse_document`` and validated as they validate it:
the text published is the text that validated, and readers read the same posture.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secure_comprehend._errors import PostureError, aws_error_code
from secure_comprehend.posture.documents import parse_document
from secure_comprehend.posture.fleet.sources import FleetSource
from secure_comprehend.posture.model import Posture

# what each store holds at most, in bytes of UTF-8
SSM_STANDARD_MAX = 4096  # a larger document makes the parameter advanced (charged)
SSM_MAX = 8192  # an advanced parameter
SECRET_MAX = 65536
# a write is retried as boto3 retries, but never waits long on a store that is down
_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 10,
    "retries": {"mode": "standard", "total_max_attempts": 3},
}
# the IAM action of each call publish makes, for an AccessDenied
_ACTIONS = {
    "PutParameter": "ssm:PutParameter",
    "PutSecretValue": "secretsmanager:PutSecretValue",
    "CreateSecret": "secretsmanager:CreateSecret",
    "UpdateSecret": "secretsmanager:UpdateSecret",
    "PutObject": "s3:PutObject",
}
_KMS = {
    "ssm": "kms:Encrypt on the parameter's key (kms:GenerateDataKey for an advanced one)",
    "secretsmanager": "kms:GenerateDataKey on the secret's key",
    "s3": "kms:GenerateDataKey on the object's key, if the bucket encrypts with SSE-KMS",
}
_DENIED = ("AccessDenied", "AccessDeniedException", "403", "KMSAccessDeniedException")
_APPCONFIG_ID = re.compile(r"[a-z0-9]{4,7}", re.ASCII)


@dataclass(frozen=True)
class PostureFile:
    """A posture file as validated: its text (what is published) and its posture."""

    path: Path
    text: str
    posture: Posture

    @property
    def is_json(self) -> bool:
        """Whether readers read the text as JSON (it starts with ``{``), not TOML."""
        return self.text.lstrip().startswith("{")

    @property
    def content_type(self) -> str:
        return "application/json" if self.is_json else "application/toml"

    @property
    def size(self) -> int:
        """Bytes of UTF-8, as the stores count them."""
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True)
class Published:
    """What a publish wrote: where, and the version readers will report."""

    source: FleetSource
    region: str
    version: str  # as show and doctor report it after reading (S3: VersionId, else ETag)
    created: bool | None  # a new parameter or secret; None where the store does not say (S3)
    details: dict[str, str] = field(default_factory=dict)  # type, tier, version_id, etag, key


def posture_file(config: str | os.PathLike[str] | None, origin: str = "--config") -> PostureFile:
    """The posture file to publish: ``config``, else ``SECURE_COMPREHEND_CONFIG``, else the
    first default file, validated on its own (no environment variable applies).

    Raises:
        PostureError: no file, a fleet source instead of a file, or a file that is
            missing, unreadable, empty or not a valid posture (as ``load_posture`` says).
    """
    from secure_comprehend.posture.env import CONFIG_VAR
    from secure_comprehend.posture.loading import (
        DEFAULT_FILES,
        _assemble,
        _config_file,
        _fleet_source,
    )

    fleet = _fleet_source(config, origin)
    if fleet is not None:
        named = "--config" if config is not None else CONFIG_VAR
        raise PostureError(
            f"{named} names the fleet source {fleet}: publish reads a posture file; pass "
            "--config FILE"
        )
    path = _config_file(config, origin)
    if path is None:
        looked = ", ".join(str(p) for p in DEFAULT_FILES)
        raise PostureError(
            f"no posture file to publish: pass --config FILE, or set {CONFIG_VAR} "
            f"(looked in {looked})"
        )
    subject = f"posture file {str(path)!r}"
    try:  # read once: the text validated is the text published
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PostureError(f"{subject} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise PostureError(f"{subject} cannot be read: {exc.strerror or exc}") from exc
    named_json = path.suffix.lower() == ".json"
    opens_json = text.lstrip("\ufeff").lstrip().startswith("{")
    if text.strip() and named_json != opens_json:
        # load_posture reads a file by its name, readers by its text: never two readings
        raise PostureError(
            f"{subject} must hold "
            + ("a JSON object ({...})" if named_json else "TOML, not JSON")
            + ": a file named *.json is read as JSON, any other as TOML"
        )
    # the readers' own parsing: TOML, or JSON when the text starts with "{"
    values = parse_document(text, subject)
    if not values:
        raise PostureError(f"{subject} is empty: it configures nothing")
    # the document alone, as a reader without any SECURE_COMPREHEND_* variable reads it
    posture, _ = _assemble(values, f"file {path}", ({}, {}))
    return PostureFile(path, text, posture)


def writable(source: FleetSource, document: PostureFile | None = None) -> None:
    """Refuse, before any call, a source publish cannot write (or ``document`` too large
    for it); AppConfig is not written here (``appconfig_commands``).

    Raises:
        PostureError: saying what to publish to instead.
    """
    location = source.location
    arn = source.arn_parts()
    if source.scheme == "ssm" and arn is not None:
        name = arn["resource"].removeprefix("parameter/")
        name = f"/{name}" if "/" in name else name  # a path's ARN drops its first slash
        raise PostureError(
            f"posture source {source}: PutParameter takes a parameter's name, not its ARN: "
            f"publish to ssm:{name} with --region {arn['region']}, with credentials of "
            f"account {arn['account']}"
        )
    if source.scheme == "ssm" and ":" in location:
        name, _, selector = location.rpartition(":")
        raise PostureError(
            f"posture source {source} reads version or label {selector!r} of a parameter: "
            f"publish writes a new version of ssm:{name}; publish to that"
        )
    if document is None:
        return
    size = document.size
    if source.scheme == "ssm" and size > SSM_MAX:
        raise PostureError(
            f"posture file {str(document.path)!r} is {size:,} bytes: an SSM parameter holds "
            f"at most {SSM_MAX:,} (an advanced one); shorten its comments, or publish to "
            "secretsmanager: or s3://"
        )
    if source.scheme == "secretsmanager" and size > SECRET_MAX:
        raise PostureError(
            f"posture file {str(document.path)!r} is {size:,} bytes: a secret holds at most "
            f"{SECRET_MAX:,}; publish to s3://"
        )


def publish(
    source: FleetSource,
    document: PostureFile,
    session: Any,
    region: str | None = None,
    kms_key: str | None = None,
) -> Published:
    """Write ``document``'s text where readers of ``source`` read it; a new version.

    Args:
        source: an ``ssm:``, ``secretsmanager:`` or ``s3://`` source.
        document: the validated posture file (``posture_file``).
        session: the boto3 session whose credentials write it.
        region: the region to write in; None for the session's (an ARN's region wins).
        kms_key: the KMS key to encrypt with (SSM KeyId, Secrets Manager KmsKeyId, S3
            SSE-KMS); None: a new parameter or secret uses the account's default key, an
            update names no key, an S3 object gets the bucket's default encryption.

    Raises:
        PostureError: the source cannot be written (no region, no credentials, access
            denied, naming the action needed). A call AWS refused wrote nothing; one that
            timed out may have (publishing again writes one more version).
    """
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    if source.scheme == "appconfig":
        raise PostureError(f"posture source {source}: AppConfig deploys through its own pipeline")
    writable(source, document)
    region = source.region or region or session.region_name
    if not region:
        raise PostureError(
            f"posture source {source}: no region to write it in: pass --region, set "
            "AWS_DEFAULT_REGION, or give the profile a region"
        )
    target = source
    try:
        aws = session.client(source.scheme, region_name=region, config=Config(**_CLIENT_CONFIG))
        if source.scheme == "s3" and source.owner is None:
            from secure_comprehend.posture.fleet.read import _owned_by_reader

            target = _owned_by_reader(session, source, region)  # as the reader expects it
        version, created, details = _WRITERS[source.scheme](aws, target, document, kms_key)
    except ClientError as exc:
        raise PostureError(_cannot_write(source, region, target, exc)) from exc
    except BotoCoreError as exc:  # no credentials, no network, a timeout
        raise PostureError(
            f"posture source {source} ({region}) could not be written: {exc}"
        ) from exc
    return Published(source, region, version, created, details)


def _cannot_write(source: FleetSource, region: str, target: FleetSource, exc: Any) -> str:
    code = aws_error_code(exc) or "error"
    message = exc.response.get("Error", {}).get("Message", exc)
    text = f"posture source {source} ({region}) could not be written: {code}: {message}"
    if code in _DENIED:
        action = _ACTIONS.get(exc.operation_name, f"{source.scheme}:{exc.operation_name}")
        text += f"; publishing needs {action} on it, and {_KMS[source.scheme]}"
        if source.scheme == "s3":
            text += f" (S3 answers so too when the bucket's owner is not {target.owner})"
    elif code == "ResourceNotFoundException" and source.arn_parts():
        text += "; a new secret is created by name: publish to secretsmanager:NAME"
    return text


Write = tuple[str, "bool | None", dict[str, str]]


def _require_secure_string(aws: Any, name: str) -> None:
    """An existing parameter that --kms-key would not encrypt (a String) is refused."""
    found = aws.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
    ).get("Parameters", [])
    kind = str(found[0].get("Type")) if found else "unknown"
    if kind != "SecureString":
        raise PostureError(
            f"--kms-key: the parameter {name} is a {kind}, which SSM does not encrypt: "
            "publish without --kms-key, or delete it and publish again to make a SecureString"
        )


def _ssm(aws: Any, source: FleetSource, document: PostureFile, kms_key: str | None) -> Write:
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {
        "Name": source.location,
        "Value": document.text,
        # standard (free) up to 4 KB, else advanced; an advanced parameter stays advanced
        "Tier": "Intelligent-Tiering",
    }
    if kms_key:
        request["KeyId"] = kms_key
    try:  # a new parameter: a SecureString (the reader decrypts it)
        answer = aws.put_parameter(**request, Type="SecureString", Overwrite=False)
        created, details = True, {"type": "SecureString"}
    except ClientError as exc:
        if aws_error_code(exc) != "ParameterAlreadyExists":
            raise
        if kms_key:  # SSM takes a key for a SecureString only: never report what did not happen
            _require_secure_string(aws, source.location)
        # a new version of the parameter; without Type it keeps its own
        answer = aws.put_parameter(**request, Overwrite=True)
        created, details = False, {}
    if answer.get("Tier"):
        details["tier"] = str(answer["Tier"])
    if kms_key:
        details["kms_key"] = kms_key
    return str(answer["Version"]), created, details


def _secretsmanager(
    aws: Any, source: FleetSource, document: PostureFile, kms_key: str | None
) -> Write:
    from botocore.exceptions import ClientError

    secret = source.location
    details = {"kms_key": kms_key} if kms_key else {}
    try:
        if kms_key:  # a new version, under the key named
            answer = aws.update_secret(
                SecretId=secret, SecretString=document.text, KmsKeyId=kms_key
            )
        else:
            answer = aws.put_secret_value(SecretId=secret, SecretString=document.text)
        created = False
    except ClientError as exc:
        if aws_error_code(exc) != "ResourceNotFoundException" or source.arn_parts():
            raise  # an ARN names a secret that exists: it cannot be created by its ARN
        key = {"KmsKeyId": kms_key} if kms_key else {}
        answer = aws.create_secret(Name=secret, SecretString=document.text, **key)
        created = True
    return str(answer["VersionId"]), created, details


def _s3(aws: Any, source: FleetSource, document: PostureFile, kms_key: str | None) -> Write:
    bucket, _, key = source.location.partition("/")
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    answer = aws.put_object(
        Bucket=bucket,
        Key=key,
        Body=document.text.encode("utf-8"),
        ContentType=f"{document.content_type}; charset=utf-8",
        ExpectedBucketOwner=source.owner,  # never a stranger's bucket of the same name
        **encryption,
    )
    etag = str(answer.get("ETag", "")).strip('"')
    details = {"etag": etag}
    if answer.get("VersionId"):
        details["version_id"] = str(answer["VersionId"])
    if kms_key:
        details["kms_key"] = kms_key
    # what the reader reports: the VersionId of a versioned bucket, else the ETag
    return details.get("version_id", etag), None, details


_WRITERS: dict[str, Any] = {"ssm": _ssm, "secretsmanager": _secretsmanager, "s3": _s3}


def appconfig_commands(
    source: FleetSource, document: PostureFile, region: str | None
) -> tuple[list[str], list[str]]:
    """The AWS CLI commands that deploy ``document`` to ``source`` (a hosted configuration
    version, then a deployment), and notes on them. Nothing is called.
    """
    application, environment, profile = source.location.split("/")
    where = f" --region {shlex.quote(region)}" if region else ""
    commands = [
        "version=$(aws appconfig create-hosted-configuration-version"
        f"{where} --application-id {shlex.quote(application)}"
        f" --configuration-profile-id {shlex.quote(profile)}"
        f" --content-type {document.content_type}"
        f" --content {shlex.quote(f'fileb://{document.path}')}"
        " --query VersionNumber --output text /dev/null)",
        f"aws appconfig start-deployment{where} --application-id {shlex.quote(application)}"
        f" --environment-id {shlex.quote(environment)}"
        f" --configuration-profile-id {shlex.quote(profile)}"
        ' --configuration-version "$version" --deployment-strategy-id AppConfig.AllAtOnce',
    ]
    notes = [
        "the deployment uses AppConfig.AllAtOnce: give your own strategy's ID if you have one",
    ]
    names = [
        part for part in (application, environment, profile) if not _APPCONFIG_ID.fullmatch(part)
    ]
    if names:
        notes.append(
            f"these commands take IDs, not names ({', '.join(names)}): see aws appconfig "
            "list-applications, list-environments and list-configuration-profiles"
        )
    return commands, notes
