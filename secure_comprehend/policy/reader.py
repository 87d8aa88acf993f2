"""The identity policy that lets notebooks and functions read the fleet posture, and nothing else.

``policy --kind posture-reader`` prints it for the source named by ``--config``
or ``SECURE_COMPREHEND_CONFIG``. The posture store is read-only for its
readers: they get the one read action on the one document, and ``kms:Decrypt``
only through the storing service, only for that document (each service names
the document in its KMS encryption context). The account of a name (not an ARN)
is the reader's own (``aws:ResourceAccount``), as is a bucket's unless the source
names its owner (``?owner=``); its region is ``--region``, else any region (a
fleet keeps one copy per region under the same name).
"""

from __future__ import annotations

import re
from typing import Any

from secure_comprehend.policy.text import document
from secure_comprehend.posture.fleet.sources import FleetSource

_APPCONFIG_ID = re.compile(r"[a-z0-9]{7}", re.ASCII)
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}", re.ASCII)


def _literal(name: str) -> str:
    """``name`` as IAM reads it literally: ``*``, ``?`` and ``$`` are its own syntax."""
    return "".join(f"${{{c}}}" if c in "*?$" else c for c in name)


def reader_policy(source: FleetSource, region: str | None) -> tuple[dict[str, Any], list[str]]:
    """The identity policy document that reads ``source``, and notes for the reader.

    Args:
        source: the fleet source.
        region: the one region it is read in; None for every region.
    """
    from secure_comprehend.posture.regions import partition_of

    arn = source.arn_parts()
    region = arn["region"] if arn else region  # an ARN's document lives where it says
    partition = arn["partition"] if arn else (partition_of(region) if region else None) or "aws"
    where = f"{arn['region']}:{arn['account']}" if arn else f"{region or '*'}:*"
    keys = f"arn:{partition}:kms:{where}:key/*"  # a store's key lives in its region
    notes: list[str] = []
    scheme = source.scheme
    if scheme == "ssm":
        name = arn["resource"] if arn else "parameter/" + source.location.lstrip("/")
        name = name.split(":", 1)[0]  # a version or label selector is not part of the ARN
        resource = f"arn:{partition}:ssm:{where}:{name}"
        read = _allow("ReadPosture", ["ssm:GetParameter"], resource)
        decrypt = _decrypt("ssm", keys, region, {"kms:EncryptionContext:PARAMETER_ARN": resource})
    elif scheme == "secretsmanager":
        # a secret's ARN ends in six random characters after its name
        resource = source.location
        if not arn:
            resource = f"arn:{partition}:secretsmanager:{where}:secret:{resource}-??????"
        elif not _SECRET_SUFFIX.search(resource[-7:]):  # a partial ARN: the name only
            resource += "-??????"
        read = _allow("ReadPosture", ["secretsmanager:GetSecretValue"], resource)
        context = {"kms:EncryptionContext:SecretARN": resource}
        decrypt = _decrypt("secretsmanager", keys, region, context)
    elif scheme == "appconfig":
        application, environment, profile = source.location.split("/")
        if not all(_APPCONFIG_ID.fullmatch(part) for part in (application, environment, profile)):
            notes.append(
                "AppConfig's ARNs name the application, environment and profile by ID: "
                "replace the names in the Resource by their IDs (aws appconfig list-applications)"
            )
        resource = (
            f"arn:{partition}:appconfig:{where}:application/{application}"
            f"/environment/{environment}/configuration/{profile}"
        )
        actions = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]
        read = _allow("ReadPosture", actions, resource)
        decrypt = None
        notes.append(
            "a profile encrypted with a customer managed key also needs kms:Decrypt on it "
            "through appconfig (kms:ViaService)"
        )
    else:
        bucket, _, key = source.location.partition("/")
        resource = f"arn:{partition}:s3:::{bucket}/{_literal(key)}"
        read = _allow("ReadPosture", ["s3:GetObject"], resource)
        # SSE-KMS names the object, or with an S3 Bucket Key the bucket, in the context
        named = [resource, f"arn:{partition}:s3:::{bucket}"]
        # through S3 in the bucket's region, which need not be the reader's
        keys = f"arn:{partition}:kms:*:*:key/*"  # the bucket's account and region
        decrypt = _decrypt("s3", keys, None, {"kms:EncryptionContext:aws:s3:arn": named})
    if scheme == "s3" or (not arn and scheme in ("ssm", "secretsmanager")):
        # a name is the reader's own account's; a bucket, its named owner's or the reader's
        owner = source.owner or "${aws:PrincipalAccount}"
        read["Condition"] = {"StringEquals": {"aws:ResourceAccount": owner}}
    statements = [read] if decrypt is None else [read, decrypt]
    notes.append(
        "an Allow for readers: attach it to the roles of notebooks, functions and jobs; "
        "writing the posture is for its administrators only"
    )
    return document(statements), notes


def _allow(sid: str, actions: list[str], resource: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _decrypt(
    service: str, keys: str, region: str | None, context: dict[str, Any]
) -> dict[str, Any]:
    """kms:Decrypt through ``service`` only, for the one document its context names."""
    conditions: dict[str, dict[str, Any]] = {}
    for name, value in {
        "kms:ViaService": f"{service}.{region or '*'}.amazonaws.com",
        **context,
    }.items():
        operator = "StringLike" if any(c in str(value) for c in "*?") else "StringEquals"
        conditions.setdefault(operator, {})[name] = value
    return {
        "Sid": "DecryptPostureOnly",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": keys,  # the store chose the key; the conditions bind it to the document
        "Condition": conditions,
    }
