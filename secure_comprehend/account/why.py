"""why(): why a Comprehend job failed or is stuck, from its own recorded configuration.

The job is described (a job ARN names its type; a bare job ID is tried against each
Describe*Job of botocore's model, one per Start*Job, until one knows it). When it
failed or has not finished, the doctor's checks run scoped to what the job recorded,
not to the posture: its VpcConfig (subnets, security groups, each subnet's path to
S3 and network ACL), its keys (VolumeKmsKeyId, OutputDataConfig.KmsKeyId: state and
key policy), its data-access role (exists, trusts Comprehend) and what that role is
granted, judged by IAM's policy simulator (``iam:SimulatePrincipalPolicy``) for this
job's own S3 URIs: ``s3:ListBucket`` and ``s3:GetObject`` on the input,
``s3:PutObject`` on the output, ``kms:*`` on its keys and on a bucket's default key,
and the network-interface actions in its subnets. A FAIL is a likely cause; the ones
the job's own message points at come first. Read-only: Describe/Get/List/Simulate.

Whether the job was compliant is judged by ``judge_resource()`` as the Start*Job
request that made it, against the posture as it is loaded now.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import ACCESS_DENIED, Violation, aws_error_code
from secure_comprehend.account.preflight_grants import FIX as ROLE_FIX
from secure_comprehend.account.preflight_grants import Need
from secure_comprehend.account.report import (
    Check,
    PreflightReport,
    Probe,
    checked,
)

if TYPE_CHECKING:
    import boto3

    from secure_comprehend.posture.model import EffectivePosture, Posture
    from secure_comprehend.posture.origin import Origin

# A Describe*Job that does not know the ID: the job is of another type (or does not exist).
_NOT_THIS_TYPE = frozenset({"JobNotFoundException", "ResourceNotFoundException"})
# Statuses after which nothing more happens, and the ones that are not a failure.
_SUCCEEDED = frozenset({"COMPLETED"})
_STOPPED = frozenset({"STOPPED", "STOP_REQUESTED"})
_RUNNING = frozenset({"SUBMITTED", "IN_PROGRESS"})
JOB_ARN_RE = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):comprehend:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<type>[a-z-]+-job)/(?P<id>[^/\s]+)",
    re.ASCII,
)
_S3_URI_RE = re.compile(r"s3://(?P<bucket>[^/]+)/?(?P<key>.*)", re.S)


class JobNotFound(LookupError):
    """No Describe*Job of the region knows the job; the message says what was tried."""


@dataclass(frozen=True)
class JobType:
    """One kind of asynchronous job, as botocore's model names it."""

    start: str  # StartEntitiesDetectionJob: the request its properties mirror
    describe: str  # DescribeEntitiesDetectionJob
    properties: str  # EntitiesDetectionJobProperties: the answer's member
    resource: str  # entities-detection-job: the ARN's resource type

    @property
    def name(self) -> str:
        """entities detection job"""
        return self.resource.replace("-", " ")


def job_types() -> tuple[JobType, ...]:
    """A type per Start*Job of botocore's model that has a Describe*Job taking a JobId."""
    from secure_comprehend.decision.operations import default_model

    model = default_model()[0]
    names = set(model.operation_names)
    found = []
    for start in sorted(n for n in names if n.startswith("Start") and n.endswith("Job")):
        what = start.removeprefix("Start")  # EntitiesDetectionJob
        describe = f"Describe{what}"
        if describe not in names:
            continue
        operation = model.operation_model(describe)
        inputs = operation.input_shape.members if operation.input_shape else {}
        outputs = operation.output_shape.members if operation.output_shape else {}
        answers = [m for m in outputs if m.endswith("Properties")]
        if "JobId" in inputs and len(answers) == 1:
            resource = "".join(f"-{c.lower()}" if c.isupper() else c for c in what).lstrip("-")
            found.append(JobType(start, describe, answers[0], resource))
    return tuple(found)


@dataclass(frozen=True)
class JobConfig:
    """What a job recorded that decides whether it can run."""

    role: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()  # (kind, key as recorded): volume_key, output_key
    inputs: tuple[str, ...] = ()  # S3 URIs the job reads
    outputs: tuple[str, ...] = ()  # S3 URIs the job writes
    models: tuple[str, ...] = ()  # custom models or flywheels it runs


def recorded(start: str, properties: Mapping[str, Any]) -> JobConfig:
    """The job's configuration, found where the Start*Job request's security members are
    (the same walk of botocore's model the client uses)."""
    from secure_comprehend.decision.operations import default_model
    from secure_comprehend.decision.perimeter import values_at
    from secure_comprehend.posture.kinds import KMS_KINDS

    spec = default_model()[1].get(start)
    role: str | None = None
    subnets: list[str] = []
    groups: list[str] = []
    keys: list[tuple[str, str]] = []
    inputs: list[str] = []
    outputs: list[str] = []
    models: list[str] = []
    for member in spec.members if spec is not None else ():
        for _, value in values_at(properties, member.path):
            if value is None:
                continue
            if member.kind == "vpc" and isinstance(value, Mapping):
                subnets += [str(s) for s in value.get("Subnets") or []]
                groups += [str(g) for g in value.get("SecurityGroupIds") or []]
            elif member.kind in KMS_KINDS:
                keys.append((member.kind, str(value)))
            elif member.kind == "role":
                role = str(value)
            elif member.kind == "s3":
                written = member.path[0].startswith("Output")
                (outputs if written else inputs).append(str(value))
            elif member.kind == "model":
                models.append(str(value))
    return JobConfig(
        role,
        tuple(dict.fromkeys(subnets)),
        tuple(dict.fromkeys(groups)),
        tuple(keys),
        tuple(inputs),
        tuple(outputs),
        tuple(models),
    )


@dataclass
class WhyReport:
    """A job, its likely causes of failure, and whether the posture approves it."""

    region: str
    job_id: str
    job_type: JobType
    properties: dict[str, Any]
    config: JobConfig
    account: str | None = None
    checked: bool = False  # the scoped checks ran (the job failed or has not finished)
    checks: list[Check] = field(default_factory=list)
    # judge_resource() against the posture loaded now; None: not judged (see compliance_note)
    violations: tuple[Violation, ...] | None = None
    compliance_note: str = ""
    origin: Origin | None = None

    @property
    def status(self) -> str:
        return str(self.properties.get("JobStatus") or "UNKNOWN")

    @property
    def message(self) -> str:
        return str(self.properties.get("Message") or "")

    @property
    def arn(self) -> str:
        return str(self.properties.get("JobArn") or self.job_id)

    @property
    def causes(self) -> list[Check]:
        """Every FAIL, the ones the job's message points at first."""
        fails = [c for c in self.checks if c.status == "FAIL"]
        hints = _hints(self.message, self.config)
        return sorted(fails, key=lambda c: -sum(hint(c) for hint in hints))

    @property
    def ok(self) -> bool:
        """The job succeeded, or nothing wrong was found (exit 0)."""
        return not self.causes

    @property
    def compliant(self) -> bool | None:
        return None if self.violations is None else not self.violations

    def counts(self) -> dict[str, int]:
        return {
            s: sum(c.status == s for c in self.checks) for s in ("PASS", "WARN", "FAIL", "SKIPPED")
        }

    def __repr__(self) -> str:
        return (
            f"<WhyReport {self.job_type.name} {self.job_id} {self.status}: "
            f"{len(self.causes)} likely cause(s)>"
        )

    def _when(self) -> str:
        submitted, ended = self.properties.get("SubmitTime"), self.properties.get("EndTime")
        parts = [f"submitted {_time(submitted)}"] if submitted else []
        if ended:
            parts.append(f"ended {_time(ended)}")
        elif isinstance(submitted, datetime.datetime) and self.status in _RUNNING:
            now = datetime.datetime.now(submitted.tzinfo or datetime.timezone.utc)
            parts.append(f"{self.status} for {_duration(now - submitted)}")
        return ", ".join(parts)

    def __str__(self) -> str:
        cfg = self.config
        lines = [f"{self.job_type.name} {self.job_id} in {self.region}", f"  arn        {self.arn}"]
        if self.properties.get("JobName"):
            lines.append(f"  name       {self.properties['JobName']}")
        status = f"{self.status}: {self.message}" if self.message else self.status
        lines.append(f"  status     {status}")
        if when := self._when():
            lines.append(f"  time       {when}")
        rows = [
            ("role", cfg.role or "(none)"),
            ("input", ", ".join(cfg.inputs)),
            ("output", ", ".join(cfg.outputs)),
            ("subnets", ", ".join(cfg.subnets) or "(no VpcConfig)"),
            ("groups", ", ".join(cfg.security_groups)),
            ("keys", ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in cfg.keys) or "(none)"),
            ("model", ", ".join(cfg.models)),
        ]
        lines += [f"  {label:<10} {value}" for label, value in rows if value]
        lines.append("")
        lines += self._findings()
        lines.append("")
        lines.append(f"posture: {self._compliance()}")
        lines += [f"  {v}" for v in self.violations or ()]
        return "\n".join(lines)

    def _findings(self) -> list[str]:
        if not self.checked:
            why = (
                "the job completed"
                if self.status in _SUCCEEDED
                else f"the job is {self.status}: it was stopped, not failed"
            )
            return [f"not checked: {why}"]
        causes = self.causes
        lines: list[str] = []
        if causes:
            first, rest = causes[0], causes[1:]
            lines += ["likely cause:", *_check_lines(first)]
            if rest:
                lines.append("also failing:")
                for check in rest:
                    lines += _check_lines(check)
        elif self.status == "FAILED":
            lines.append(
                "no cause found: the checks of the job's network, keys, role and buckets "
                "passed. What they cannot see: each object's own encryption key, the input's "
                "format and size, service quotas; AWS's message above says more"
            )
        else:
            lines.append("nothing wrong found in the job's network, keys, role and buckets")
        unsure = [c for c in self.checks if c.status in ("WARN", "SKIPPED")]
        if unsure:
            lines.append("not ruled out:")
            for check in unsure:
                lines += _check_lines(check)
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        lines.append(f"checks scoped to the job's own configuration: {counts}")
        return lines

    def _compliance(self) -> str:
        if self.violations is None:
            return f"not judged ({self.compliance_note})"
        where = f" (posture loaded from {self.origin})" if self.origin else ""
        if not self.violations:
            return f"the job is compliant with the posture as loaded now{where}"
        return f"the job is NOT compliant with the posture as loaded now{where}:"

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table

        caption = f"why {self.job_type.name} {self.job_id} is {self.status}"
        rows = [(c.status, c.area, c.subject, c.reason) for c in self.causes]
        rows += [(c.status, c.area, c.subject, c.reason) for c in self.checks if c.status != "FAIL"]
        return html_table(caption, ("status", "area", "subject", "why"), rows)

    def to_dict(self) -> dict[str, Any]:
        causes = self.causes
        return {
            "region": self.region,
            "account": self.account,
            "job": {
                "id": self.job_id,
                "arn": self.arn,
                "type": self.job_type.name,
                "operation": self.job_type.start,
                "name": self.properties.get("JobName"),
                "status": self.status,
                "message": self.message or None,
                "submit_time": _time(self.properties.get("SubmitTime")),
                "end_time": _time(self.properties.get("EndTime")),
                "configuration": {
                    "role": self.config.role,
                    "subnets": list(self.config.subnets),
                    "security_groups": list(self.config.security_groups),
                    "keys": dict(self.config.keys),
                    "inputs": list(self.config.inputs),
                    "outputs": list(self.config.outputs),
                    "models": list(self.config.models),
                },
            },
            "ok": self.ok,
            "checked": self.checked,
            "likely_cause": asdict(causes[0]) if causes else None,
            "causes": [asdict(c) for c in causes],
            "checks": [asdict(c) for c in self.checks],
            "compliance": {
                "judged": self.violations is not None,
                "compliant": self.compliant,
                "note": self.compliance_note or None,
                "origin": self.origin.to_dict() if self.origin else None,
                "violations": [
                    {
                        "path": v.path,
                        "value": v.value,
                        "reason": v.reason,
                        "approved": list(v.allowed),
                    }
                    for v in self.violations or ()
                ],
            },
        }


def _check_lines(check: Check) -> list[str]:
    return [
        f"  {check.status:<8} {check.area:<15} {check.subject}",
        f"  {'':<8} {'':<15} {check.reason}",
    ]


def _time(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    return None if value is None else str(value)


def _duration(delta: datetime.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes}m"


_NETWORK = frozenset({"subnets", "security groups", "s3 path", "network acl", "s3 endpoint"})


def _hints(message: str, config: JobConfig) -> list[Callable[[Check], bool]]:
    """What the job's own message points at (NO_READ_ACCESS_TO_INPUT: the input bucket, the
    path to S3, the role's S3 grants): matching FAILs rank first."""
    words = set(re.split(r"[^A-Z0-9]+", message.upper()))

    def said(*names: str) -> bool:
        return any(w.startswith(names) for w in words if w)

    def naming(uris: tuple[str, ...]) -> Callable[[Check], bool]:
        buckets = tuple(_bucket_of(u)[0] for u in uris)
        return lambda c: any(b in f"{c.subject} {c.reason}" for b in buckets)

    hints: list[Callable[[Check], bool]] = []
    if said("INPUT", "READ"):
        hints += [naming(config.inputs), lambda c: c.area in _NETWORK]
    if said("OUTPUT", "WRITE"):
        hints += [naming(config.outputs), lambda c: c.area in _NETWORK]
    if said("KMS", "KEY", "ENCRYPT", "DECRYPT"):
        hints.append(lambda c: c.area in ("kms", "key policy") or " key " in c.reason)
    if said("VPC", "SUBNET", "SECURITY", "ENI", "NETWORK"):
        hints.append(lambda c: c.area in _NETWORK or "network interfaces" in c.reason)
    if not hints and said("ROLE", "ASSUME"):  # AWS blames the role for the network too:
        hints.append(lambda c: c.area == "roles")  # only when nothing else is named
    return hints


def _bucket_of(uri: str) -> tuple[str, str]:
    match = _S3_URI_RE.fullmatch(uri)
    return (match["bucket"], match["key"]) if match else (uri, "")


# -- finding the job ----------------------------------------------------------------------


def parse_job(job: str) -> tuple[str, JobType | None, str | None]:
    """(job ID, its type when an ARN names it, the ARN's region).

    Raises:
        ValueError: an ARN that is not a Comprehend job's, or an empty ID.
    """
    text = job.strip()
    if not text:
        raise ValueError("the job is empty: give a job ID or a job ARN")
    if not text.startswith("arn:"):
        if "/" in text or ":" in text:
            raise ValueError(f"{job!r} is neither a job ID nor a Comprehend job ARN")
        return text, None, None
    match = JOB_ARN_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{job!r} is not a Comprehend job ARN (arn:aws:comprehend:REGION:ACCOUNT:TYPE-job/ID)"
        )
    types = {t.resource: t for t in job_types()}
    if match["type"] not in types:
        raise ValueError(
            f"{job!r}: {match['type']} is not a job type botocore's model knows "
            f"({', '.join(sorted(types))})"
        )
    return match["id"], types[match["type"]], match["region"]


def describe_job(
    client: Any, job_id: str, kind: JobType | None = None
) -> tuple[JobType, dict[str, Any]]:
    """The job's type and recorded properties: ``kind``'s Describe*Job, or each type's in
    turn until one knows the ID.

    Raises:
        JobNotFound: no Describe*Job knows it (naming those the caller may not call).
    """
    from botocore import xform_name
    from botocore.exceptions import ClientError

    types = job_types()
    by_resource = {t.resource: t for t in types}
    refused: list[str] = []
    for tried in [kind] if kind is not None else list(types):
        try:
            answer = getattr(client, xform_name(tried.describe))(JobId=job_id)
        except ClientError as exc:
            code = aws_error_code(exc)
            if code in _NOT_THIS_TYPE:
                continue
            if code in ACCESS_DENIED:
                refused.append(f"comprehend:{tried.describe}")
                continue
            raise
        properties = dict(answer.get(tried.properties) or {})
        named = JOB_ARN_RE.fullmatch(str(properties.get("JobArn", "")))
        other = by_resource.get(named["type"]) if named else None
        if other is not None and other != tried and kind is None:
            # a service that answers any type's Describe for any job: the ARN decides
            answer = getattr(client, xform_name(other.describe))(JobId=job_id)
            return other, dict(answer.get(other.properties) or {})
        return tried, properties
    what = kind.name if kind is not None else "job"  # "entities detection job"
    text = f"no {what} {job_id} in {client.meta.region_name}"
    if refused:
        text += (
            f"; not allowed to call {', '.join(refused)} (AccessDenied): it may be of those "
            "types: needs those permissions"
        )
    elif kind is None:
        text += f" (tried the {len(types)} job types: give the job ARN, or check --region)"
    raise JobNotFound(text)


# -- the checks, scoped to the job --------------------------------------------------------


def why(
    job: str,
    posture: Posture | None = None,
    *,
    session: boto3.Session | None = None,
    region_name: str | None = None,
    judge: bool = True,
    progress: Callable[[str], None] | None = None,
) -> WhyReport:
    """Describe a job and, when it failed or has not finished, find the likely cause.

    Args:
        job: a job ID (any job type) or a job ARN.
        posture: the posture the job is judged against; ``None`` loads it as
            ``load_posture()`` does (none found: not judged).
        session: the boto3 session; ``None`` makes a new one.
        region_name: the region; ``None``: the ARN's, else the session's.
        judge: whether to judge the job against the posture at all.
        progress: called with each area's name before it runs.

    Returns:
        The report: ``report.causes`` (FAILs, the likeliest first), ``report.ok`` when the
        job succeeded or nothing wrong was found, ``report.violations`` for the posture.

    Raises:
        JobNotFound: no job of that ID or ARN in the region.
        ValueError: ``job`` is not a job ID or ARN, or an ARN of another region.
        PostureError: the posture could not be loaded (other than none found).
    """
    import boto3

    job_id, kind, arn_region = parse_job(job)
    if arn_region and region_name and arn_region != region_name:
        raise ValueError(f"the job ARN is in {arn_region}, not {region_name}")
    if session is None:
        session = boto3.Session(region_name=region_name or arn_region)
    region = region_name or arn_region or session.region_name
    if not region:
        raise ValueError("no region: pass region_name, give a job ARN, or configure one")
    if progress is not None:
        progress("job")
    client = session.client("comprehend", region_name=region)
    job_type, properties = describe_job(client, job_id, kind)
    given, found = job.strip(), str(properties.get("JobArn") or "")
    if given.startswith("arn:") and found and given.split(":")[:5] != found.split(":")[:5]:
        # the job of this ID that these credentials see is not the one the ARN names
        raise JobNotFound(f"no job {given} here: the job {job_id} these credentials see is {found}")
    report = WhyReport(region, job_id, job_type, properties, recorded(job_type.start, properties))
    if judge:
        _judge(report, posture, session)
    else:
        report.compliance_note = "no posture"
    status = report.status
    if status not in _SUCCEEDED and status not in _STOPPED:
        report.checked = True
        _check(report, Probe(session, region), progress)
    return report


def _judge(report: WhyReport, posture: Posture | None, session: Any) -> None:
    from secure_comprehend._errors import PostureError
    from secure_comprehend.decision.judge import judge_resource
    from secure_comprehend.posture.loading import posture_or_load
    from secure_comprehend.posture.origin import origin_of

    try:
        loaded = posture_or_load(posture, session, report.region)
    except PostureError as exc:
        if posture is None and str(exc).startswith("no posture found"):
            report.compliance_note = "no posture found"
            return
        raise
    report.origin = origin_of(loaded)
    try:
        effective = loaded.effective(report.region)
    except PostureError as exc:
        report.compliance_note = str(exc)
        return
    report.violations = judge_resource(report.job_type.start, report.properties, effective)


def _check(report: WhyReport, probe: Probe, progress: Callable[[str], None] | None) -> None:
    from secure_comprehend.account.preflight import identity
    from secure_comprehend.account.preflight_kms import key_policies, keys
    from secure_comprehend.account.preflight_vpc import s3_paths, security_groups, subnets

    cfg = report.config
    doctor = PreflightReport(report.region)
    scope = _scope(report.region, cfg, dict(cfg.keys))
    resolved = {kind: _key_arn(probe, key) or key for kind, key in cfg.keys}
    areas: list[tuple[str, Callable[[], Iterator[Check]]]] = [
        ("identity", lambda: identity(probe, scope, doctor)),
        ("s3 buckets", lambda: _buckets(probe, cfg, doctor)),
        ("roles", lambda: _role(probe, cfg, doctor)),
    ]
    if cfg.subnets:
        areas += [
            ("subnets", lambda: subnets(probe, scope, doctor)),
            ("security groups", lambda: security_groups(probe, scope, doctor)),
            ("s3 path", lambda: s3_paths(probe, scope, doctor)),
        ]
    if cfg.keys:
        keyed = _scope(report.region, cfg, resolved)
        areas += [
            ("kms", lambda: keys(probe, scope, doctor)),
            ("key policy", lambda: key_policies(probe, keyed, doctor)),
        ]
    for name, area in areas:
        if progress is not None:
            progress(name)
        report.checks.extend(checked(name, area, doctor))
    report.account = doctor.account


def _scope(region: str, cfg: JobConfig, keys: dict[str, str]) -> EffectivePosture:
    """The job's own configuration as a posture the doctor's areas can check."""
    from secure_comprehend.posture.model import EffectivePosture
    from secure_comprehend.posture.sections import IamSettings, VpcSettings

    # as AWS recorded them: not validated again (a posture's limits are not the job's)
    vpc = (
        VpcSettings.model_construct(subnets=cfg.subnets, security_group_ids=cfg.security_groups)
        if cfg.subnets
        else None
    )
    roles = (cfg.role,) if cfg.role else ()
    return EffectivePosture(
        region=region,
        mode="observe",
        vpc=vpc,
        kms=None,
        iam=IamSettings.model_construct(data_access_roles=roles) if roles else None,
        subnets=frozenset(cfg.subnets),
        security_groups=frozenset(cfg.security_groups),
        roles=frozenset(roles),
        default_keys=keys,
    )


def _key_arn(probe: Probe, key: str) -> str | None:
    """A key ID, alias or alias ARN as the key's ARN (IAM evaluates the key), else None."""
    if key.startswith("arn:") and ":key/" in key:
        return key
    try:
        return str(probe.once("kms", "DescribeKey", KeyId=key)["KeyMetadata"]["Arn"])
    except Exception:  # kms says why (FAIL or SKIPPED)
        return None


def _buckets(probe: Probe, cfg: JobConfig, doctor: PreflightReport) -> Iterator[Check]:
    """Each bucket the job reads or writes exists, in this account and region."""
    from secure_comprehend.account.preflight_s3 import _bucket

    for bucket in dict.fromkeys(_bucket_of(u)[0] for u in (*cfg.inputs, *cfg.outputs)):
        check = _bucket(probe, bucket, doctor.account)
        if check.status == "WARN" and "only jobs in" in check.reason:  # this job is here
            check = replace(check, status="FAIL")
        yield check


def _role(probe: Probe, cfg: JobConfig, doctor: PreflightReport) -> Iterator[Check]:
    """The job's role exists, trusts Comprehend, and is granted what this job needs."""
    from secure_comprehend.account.preflight_iam import role_checks

    if not cfg.role:
        yield Check("roles", "-", "SKIPPED", "the job recorded no data-access role")
        return
    yield from role_checks(
        probe,
        cfg.role,
        doctor,
        lambda partition, account: _needs(probe, cfg, partition, account),
        _judged,
        absent="the job's role does not exist (deleted since?): jobs cannot assume it. Fix: "
        "create it with 'secure-comprehend policy --kind data-access-role'",
    )


def _needs(probe: Probe, cfg: JobConfig, partition: str, account: str) -> list[Need]:
    """What this job needs its role to be allowed: the network interfaces in its subnets,
    its keys, and its own S3 URIs (and a bucket's default key, when it has one)."""
    from secure_comprehend.account.preflight_grants import needs

    keys = {kind: arn for kind, key in cfg.keys if (arn := _key_arn(probe, key))}
    found = needs(_scope(probe.region, cfg, keys), partition, probe.region, account)
    owned = ("s3:ResourceAccount", account)
    for uris, direction, actions in (
        (cfg.inputs, "input", ("s3:GetObject",)),
        (cfg.outputs, "output", ("s3:PutObject",)),
    ):
        for uri in uris:
            bucket, key = _bucket_of(uri)
            arn = f"arn:{partition}:s3:::{bucket}"
            capability = f"{direction} {uri}"
            if direction == "input":
                listing = (owned, ("s3:prefix", key)) if key else (owned,)
                found.append(Need(capability, "s3:ListBucket", arn, listing))
            objects = f"{arn}/{_as_prefix(key)}"  # an S3Uri names a prefix, or one file
            found += [Need(capability, a, objects, (owned,)) for a in actions]
            default_key = _bucket_key(probe, bucket)
            if default_key:
                action = "kms:Decrypt" if direction == "input" else "kms:GenerateDataKey"
                found.append(
                    Need(f"key {default_key} (bucket {bucket}'s default)", action, default_key)
                )
    return list(dict.fromkeys(found))


def _bucket_key(probe: Probe, bucket: str) -> str | None:
    """The customer managed key a bucket encrypts new objects with by default, if any."""
    try:
        answer = probe.once("s3", "GetBucketEncryption", Bucket=bucket)
    except Exception:  # none, refused, or no bucket (s3 buckets says so)
        return None
    for rule in answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if str(default.get("SSEAlgorithm", "")).startswith("aws:kms") and default.get(
            "KMSMasterKeyID"
        ):
            return _key_arn(probe, str(default["KMSMasterKeyID"]))
    return None


def _judged(
    arn: str, wanted: list[Need], decisions: dict[Need, tuple[str, list[str]]]
) -> Iterator[Check]:
    """IAM's decisions on this job's needs: one finding per capability not allowed, naming
    the job's own URIs and the fix."""
    name = arn.rsplit("/", 1)[1]
    refused: dict[tuple[str, str], list[Need]] = {}  # (capability, decision) -> needs
    unsure: dict[str, set[str]] = {}
    for need in wanted:
        decision, lacking = decisions[need]
        if decision == "allowed":
            continue
        if decision == "implicitDeny" and lacking:
            unsure.setdefault(need.capability, set()).update(lacking)
        else:
            refused.setdefault((need.capability, decision), []).append(need)
    for (capability, decision), needs in refused.items():
        actions = ", ".join(sorted({n.action for n in needs}))
        yield Check(
            "roles",
            arn,
            "FAIL",
            f"the role {name} may not {actions} on {_what(capability)} "
            f"(SimulatePrincipalPolicy: {decision}). Fix: {_fix(decision, needs)}",
        )
    for capability, condition_keys in unsure.items():
        yield Check(
            "roles",
            arn,
            "WARN",
            f"the role {name} is granted {_what(capability)} only under conditions on "
            f"{', '.join(sorted(condition_keys))}, which this check cannot give the simulator",
        )
    if not refused and not unsure:
        yield Check(
            "roles",
            arn,
            "PASS",
            "IAM's policy simulator allows it what this job needs (its network interfaces, "
            "keys and S3 URIs), its permissions boundary included (key policies: see key policy)",
        )


def _what(capability: str) -> str:
    """ "input s3://b/in/" -> "s3://b/in/"; others as they are (key ARN, network interfaces)."""
    return (
        capability.split(" ", 1)[1] if capability.startswith(("input ", "output ")) else capability
    )


def _fix(decision: str, needs: list[Need]) -> str:
    if decision == "explicitDeny":
        return (
            "a Deny in the role's policies, its permissions boundary, an SCP or the resource's "
            "policy matches: remove it or exclude this resource"
        )
    if decision != "implicitDeny":
        return f"IAM's policy simulator answered {decision}; {ROLE_FIX}"
    actions = sorted({n.action for n in needs})
    resources = sorted({_pattern(n.resource) for n in needs})
    return (
        f"add an Allow of {', '.join(actions)} on {', '.join(resources)} to the role's "
        "permissions policy, or attach the PermissionsPolicy of 'secure-comprehend policy "
        "--kind data-access-role' (its [s3] allowed_buckets must include the bucket)"
        if any(n.action.startswith("s3:") for n in needs)
        else f"add an Allow of {', '.join(actions)} on {', '.join(resources)}, or {ROLE_FIX[5:]}"
    )


def _as_prefix(key: str) -> str:
    """What a job reads or writes under an S3Uri's key: ``in`` is the folder ``in/`` (AWS
    reads every object under the prefix); ``in/doc.txt``, a name with an extension, the file."""
    last = key.rsplit("/", 1)[-1]
    return key if not key or key.endswith("/") or "." in last else key + "/"


def _pattern(resource: str) -> str:
    """An object ARN as the prefix a policy grants (arn:aws:s3:::b/in/*)."""
    if ":s3:::" in resource and "/" in resource:
        return resource + "*" if resource.endswith("/") else resource
    return resource
