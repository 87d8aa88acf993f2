"""discover(): what a posture could approve, found with read-only calls (``init``).

It proposes, never decides. Each value found carries why it was chosen; a choice it
cannot make (several equally good candidates, none at all, a call it may not make)
is a TODO that the posture validators refuse until someone edits it (fail closed).
A call the caller may not make is recorded as SKIPPED with the permission it needed,
and the rest of the discovery goes on.

- Subnets: the private subnets of one VPC (no default route to an internet gateway)
  that reach S3, through an interface endpoint, a gateway endpoint or a NAT gateway,
  judged as ``doctor`` judges them. Without ``vpc``, the VPC with the most of them.
- Security groups: those of that VPC that let HTTPS out to S3 as the VPC reaches it.
- KMS keys: the customer managed keys whose key policy lets Comprehend use them (names
  a role Comprehend may assume, Comprehend's service principal or ``kms:ViaService``;
  else one that delegates to the account, where the role's own policies decide).
- Roles: those whose trust policy lets Comprehend assume them; buckets: those their
  own policies reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.preflight_grants import (
    S3_OBJECT_ACTIONS,
    _statements,
    as_list,
    policy_json,
)
from secure_comprehend.account.preflight_iam import _trust
from secure_comprehend.account.preflight_kms import _key_check
from secure_comprehend.account.preflight_vpc import (
    _allows_https,
    _interface_endpoints,
    _s3_addresses,
    _s3_prefix_list,
)
from secure_comprehend.account.report import Probe, Skipped, error_code
from secure_comprehend.policy.provisioning import KMS_ACTIONS
from secure_comprehend.policy.statements import COMPREHEND_PRINCIPAL

if TYPE_CHECKING:
    import boto3

MAX_SUBNETS, MAX_GROUPS = 16, 5  # what a posture's [vpc] (and a VpcConfig) holds
KMS_SLOTS = {  # posture key -> what it encrypts, and words an alias uses for it
    "volume_key": ("job volumes", ("volume",)),
    "output_key": ("job output", ("output",)),
    "model_key": ("models", ("model",)),
    "data_lake_key": ("flywheel data lakes", ("lake", "flywheel")),
}
# the areas whose listing call, when refused, leaves nothing to propose there
AREAS = ("vpc", "kms", "iam")


@dataclass(frozen=True)
class Value:
    """One proposed value and why it was chosen."""

    text: str
    why: str


@dataclass
class Setting:
    """One key of a section: the values proposed, and a TODO when a choice is left open.

    A list setting with both shows the TODO as its first item (for example: which of
    several roles is injected); a single value is either proposed or TODO.
    """

    key: str
    many: bool
    values: list[Value] = field(default_factory=list)
    todo: str | None = None
    notes: list[str] = field(default_factory=list)  # what was seen and not proposed


@dataclass
class Section:
    """A posture section: notes on the whole section, then its settings."""

    name: str
    notes: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "not allowed to call ...: needs ..."


@dataclass
class Discovery:
    """What ``discover`` found in one region, section by section."""

    region: str
    account: str | None = None
    vpc: str | None = None  # the VPC whose subnets and groups are proposed
    sections: list[Section] = field(default_factory=list)
    unread: set[str] = field(default_factory=set)  # AREAS whose listing was refused
    account_skipped: str | None = None  # sts:GetCallerIdentity was refused

    @property
    def skipped(self) -> list[str]:
        """Every refused call, as "area: not allowed to call ...: needs ..."."""
        top = [f"account: {self.account_skipped}"] if self.account_skipped else []
        return top + [f"{s.name}: {line}" for s in self.sections for line in s.skipped]

    @property
    def todos(self) -> int:
        return sum(s.todo is not None for section in self.sections for s in section.settings)


@dataclass(frozen=True)
class _Subnet:
    id: str
    vpc: str
    zone: str
    label: str  # "us-east-1a, Name tag" for comments
    table: str | None
    public: str | None  # an internet gateway any of its routes goes to
    path: str | None  # how it reaches S3
    why_not: str = ""  # why it has no path, when it has none


def discover(
    session: boto3.Session,
    region: str,
    vpc: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Discovery:
    """Discover, read-only, what a posture for ``region`` could approve.

    Raises:
        ValueError: ``vpc`` does not exist in the region.
        botocore errors other than access denied (credentials, network, throttling).
    """
    probe = Probe(session, region)
    found = Discovery(region)

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    step("identity")
    try:
        found.account = str(probe.call("sts", "GetCallerIdentity")["Account"])
    except Skipped as exc:
        found.account_skipped = str(exc)
    step("subnets and security groups")
    found.sections.append(_network(probe, found, vpc))
    step("roles")
    iam, roles = _roles(probe, found)
    step("kms keys")
    found.sections.append(_keys(probe, found, roles))
    found.sections.append(iam)
    step("buckets")
    found.sections.append(_buckets(probe, found, roles))
    return found


def _skip(section: Section, exc: Skipped) -> None:
    section.skipped.append(str(exc))


_TOKENS = {"ec2": ("NextToken", "NextToken"), "kms": ("Marker", "NextMarker")}
_TOKENS["iam"] = ("Marker", "Marker")


def _pages(probe: Probe, service: str, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, page after page."""
    ask, answer = _TOKENS[service]
    items: list[Any] = []
    seen: set[str] = set()
    while True:
        page = probe.call(service, operation, **params)
        items += page.get(key, [])
        token = page.get(answer)
        if not token or token in seen:
            return items
        seen.add(str(token))
        params[ask] = token


def _name_tag(resource: dict[str, Any]) -> str:
    return next((str(t["Value"]) for t in resource.get("Tags", []) if t.get("Key") == "Name"), "")


# The network: VPC, subnets, security groups.


def _network(probe: Probe, found: Discovery, wanted: str | None) -> Section:
    section = Section("vpc")
    subnets = Setting("subnets", many=True)
    groups = Setting("security_group_ids", many=True)
    section.settings += [subnets, groups]
    prefix_list: str | None = None
    try:
        prefix_list = _s3_prefix_list(probe)
    except Skipped as exc:
        _skip(section, exc)
    try:
        found.vpc = _subnets(probe, section, subnets, wanted, prefix_list)
    except Skipped as exc:
        _skip(section, exc)
        found.unread.add("vpc")
        found.vpc = wanted
        subnets.todo = "the subnets could not be read (see SKIPPED above)"
    if found.vpc is None:
        groups.todo = "choose the VPC and its subnets first, then a security group of it"
        return section
    try:
        _groups(probe, section, groups, found.vpc, prefix_list)
    except Skipped as exc:
        _skip(section, exc)
        groups.todo = "the security groups could not be read (see SKIPPED above)"
    return section


def _subnets(
    probe: Probe, section: Section, setting: Setting, wanted: str | None, prefix_list: str | None
) -> str | None:
    """Propose the private subnets of one VPC that reach S3; returns the VPC chosen."""
    filters = [{"Name": "vpc-id", "Values": [wanted]}] if wanted else []
    vpcs = _vpcs(probe, section, wanted)
    everything = _pages(probe, "ec2", "DescribeSubnets", "Subnets", Filters=filters)
    tables = _pages(probe, "ec2", "DescribeRouteTables", "RouteTables", Filters=filters)
    ids = sorted({str(s["VpcId"]) for s in everything} | set(vpcs))
    try:
        interfaces = _interface_endpoints(probe, ids)
    except Skipped as exc:
        _skip(section, exc)
        interfaces = {}
    found = [_judge_subnet(s, tables, interfaces, prefix_list) for s in everything]
    reaching = {v: [s for s in found if s.vpc == v and s.public is None and s.path] for v in ids}
    dedicated = {
        v for v, info in vpcs.items() if info.get("InstanceTenancy", "default") != "default"
    }

    def described(vpc: str) -> str:
        info = vpcs.get(vpc, {})
        name = _name_tag(info)
        parts = [str(info["CidrBlock"])] if info.get("CidrBlock") else []
        parts += [name] if name else []
        parts += ["the default VPC"] if info.get("IsDefault") else []
        ours = [s for s in found if s.vpc == vpc]
        private = sum(s.public is None for s in ours)
        counted = (
            f"{len(reaching[vpc])} private subnet(s) that reach S3 "
            f"({private} private, {len(ours) - private} public)"
        )
        tenancy = "; dedicated tenancy: Comprehend needs default" if vpc in dedicated else ""
        return f"{vpc} ({', '.join(parts)}): {counted}{tenancy}" if parts else f"{vpc}: {counted}"

    chosen = wanted
    if chosen is None:
        usable = {v: len(reaching[v]) for v in ids if v not in dedicated and reaching[v]}
        best = max(usable.values(), default=0)
        top = sorted(v for v, n in usable.items() if n == best)
        if len(top) == 1:
            chosen = top[0]
            section.notes.append(f"VPC {described(chosen)}: the most of the region's VPCs")
        elif top:
            setting.todo = f"{' and '.join(top)} have {best} each: run init again with --vpc VPC_ID"
        else:
            setting.todo = "no VPC has a private subnet that reaches S3 (see the VPCs above)"
        for vpc in ids:
            if vpc != chosen:
                section.notes.append(f"other VPC {described(vpc)}")
    else:
        section.notes.append(f"VPC {described(chosen)}: named by --vpc")
        if chosen in dedicated:
            setting.todo = f"{chosen} has dedicated tenancy: Comprehend needs default tenancy"
    if chosen is None:
        return None
    ours = sorted((s for s in found if s.vpc == chosen), key=lambda s: (s.zone, s.id))
    proposed = [s for s in ours if s.public is None and s.path][:MAX_SUBNETS]
    for subnet in ours:
        if subnet.public is not None:
            setting.notes.append(
                f"not proposed: {subnet.id} ({subnet.label}): public, {subnet.table} routes "
                f"0.0.0.0/0 to {subnet.public}"
            )
        elif not subnet.path:
            setting.notes.append(
                f"not proposed: {subnet.id} ({subnet.label}): private, but {subnet.why_not}; "
                "a job there could not reach S3"
            )
        elif subnet not in proposed:
            setting.notes.append(
                f"not proposed: {subnet.id} ({subnet.label}): a posture holds {MAX_SUBNETS} "
                "subnets at most"
            )
    setting.values = [
        Value(s.id, f"{s.label}; private ({s.table}: no route to an internet gateway); {s.path}")
        for s in proposed
    ]
    if len({s.zone for s in proposed}) == 1:
        setting.notes.append(
            f"every proposed subnet is in {proposed[0].zone}: subnets in several Availability "
            "Zones keep jobs running when one zone fails"
        )
    if not proposed and setting.todo is None:
        setting.todo = (
            f"{chosen} has no private subnet that reaches S3: add an S3 gateway endpoint to a "
            "private subnet's route table, then name the subnets here"
        )
    return chosen


def _vpcs(probe: Probe, section: Section, wanted: str | None) -> dict[str, dict[str, Any]]:
    """The region's VPCs (or the one named), for their CIDR, name and tenancy."""
    from botocore.exceptions import ClientError

    try:
        params: dict[str, Any] = {"VpcIds": [wanted]} if wanted else {}
        vpcs = _pages(probe, "ec2", "DescribeVpcs", "Vpcs", **params)
    except Skipped as exc:
        _skip(section, exc)
        return {}
    except ClientError as exc:
        if wanted and "NotFound" in error_code(exc):
            raise ValueError(f"--vpc {wanted}: no such VPC in {probe.region}") from exc
        raise
    return {str(v["VpcId"]): v for v in vpcs}


def _judge_subnet(
    subnet: dict[str, Any],
    tables: list[dict[str, Any]],
    interfaces: dict[str, list[dict[str, Any]]],
    prefix_list: str | None,
) -> _Subnet:
    """Public or private, and the path to S3, as ``doctor``'s s3 path check sees it: an
    interface endpoint the VPC's DNS resolves S3 to, else a gateway endpoint, else NAT."""
    sid, vpc = str(subnet["SubnetId"]), str(subnet["VpcId"])
    zone = str(subnet.get("AvailabilityZone", "?"))
    name = _name_tag(subnet)
    label = f"{zone}, {name!r}" if name else zone
    table = _table_of(sid, vpc, tables)
    if table is None:
        return _Subnet(sid, vpc, zone, label, None, None, None, "no route table was found")
    table_id = str(table["RouteTableId"])
    routes = [r for r in table.get("Routes", []) if r.get("State", "active") == "active"]
    default = [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    igw = next(  # any route to an internet gateway (0.0.0.0/1, ::/0 ...): not private
        (str(r["GatewayId"]) for r in routes if str(r.get("GatewayId", "")).startswith("igw-")),
        None,
    )
    gateways = sorted(  # S3's: only when its prefix list is known (DynamoDB's has one too)
        str(r["GatewayId"])
        for r in routes
        if str(r.get("GatewayId", "")).startswith("vpce-")
        and prefix_list is not None
        and r.get("DestinationPrefixListId") == prefix_list
    )
    nat = next((str(r["NatGatewayId"]) for r in default if r.get("NatGatewayId")), None)
    path: str | None = None
    if interfaces.get(vpc):
        ids = ", ".join(sorted(str(e["VpcEndpointId"]) for e in interfaces[vpc]))
        path = f"reaches S3 through the S3 interface endpoint {ids} (private DNS)"
    elif gateways:
        path = f"reaches S3 through the S3 gateway endpoint {', '.join(gateways)}"
    elif nat:
        path = f"reaches S3 through the NAT gateway {nat} (0.0.0.0/0)"
    why_not = f"{table_id} has no route to an S3 gateway endpoint nor a NAT gateway"
    other = [r for r in default if not r.get("NatGatewayId") and igw is None]
    if other:
        target = next((str(v) for k, v in other[0].items() if k.endswith("Id")), "?")
        why_not += f" (its 0.0.0.0/0 route goes to {target}: where it leads is not visible here)"
    return _Subnet(sid, vpc, zone, label, table_id, igw, path, why_not)


def _table_of(subnet: str, vpc: str, tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The subnet's own route table, else its VPC's main one."""
    main = None
    for table in tables:
        for association in table.get("Associations", []):
            if association.get("SubnetId") == subnet:
                return table
            if association.get("Main") and table.get("VpcId") == vpc:
                main = table
    return main


def _groups(
    probe: Probe, section: Section, setting: Setting, vpc: str, prefix_list: str | None
) -> None:
    """Propose the security group of ``vpc`` that lets HTTPS out to S3."""
    groups = _pages(
        probe,
        "ec2",
        "DescribeSecurityGroups",
        "SecurityGroups",
        Filters=[{"Name": "vpc-id", "Values": [vpc]}],
    )
    to = _s3_addresses(probe, [vpc], prefix_list)[vpc]

    def label(group: dict[str, Any]) -> str:
        return f"{group['GroupId']} ({group.get('GroupName', '?')!r})"

    allowing = []
    for group in sorted(groups, key=lambda g: str(g["GroupId"])):
        if any(_allows_https(rule, to) for rule in group.get("IpPermissionsEgress", [])):
            allowing.append(group)
        else:
            setting.notes.append(
                f"not proposed: {label(group)}: no egress rule allows HTTPS (443) to {to}"
            )
    allows = f"allows HTTPS (443) out to {to}"
    own = [g for g in allowing if g.get("GroupName") != "default"]
    named = [g for g in own if "comprehend" in _words(g)]
    chosen: list[dict[str, Any]] = []
    if len(own) == 1:
        why = f"the only security group of {vpc} but its default group that {allows}"
        chosen = own
    elif len(named) == 1:
        why = f"{allows}, and the only one that mentions Comprehend in its name or description"
        chosen = named
    elif not own and allowing:
        why = (
            f"the default group of {vpc}, the only one that {allows}: consider a group of its "
            "own for Comprehend jobs"
        )
        chosen = allowing
    setting.values = [Value(str(g["GroupId"]), why) for g in chosen]
    for group in allowing:
        if group in chosen:
            continue
        if group.get("GroupName") == "default":
            setting.notes.append(f"not proposed: {label(group)}: the VPC's default group")
        elif chosen:
            setting.notes.append(
                f"not proposed: {label(group)}: {allows}, but does not mention Comprehend"
            )
        else:
            setting.notes.append(f"candidate: {label(group)}: {allows}")
    if own and not chosen:
        setting.todo = (
            f"choose 1 to {MAX_GROUPS} of the candidate security groups above (a job's "
            "network interfaces get all of them)"
        )
    elif not allowing:
        setting.todo = f"no security group of {vpc} {allows}: create one and name it here"


def _words(group: dict[str, Any]) -> str:
    return f"{group.get('GroupName', '')} {group.get('Description', '')} {_name_tag(group)}".lower()


# Roles and the buckets they reach.


def _roles(probe: Probe, found: Discovery) -> tuple[Section, list[str]]:
    """The roles Comprehend may assume: all are proposed; which is injected is a TODO
    when there are several."""
    section = Section("iam")
    setting = Setting("data_access_roles", many=True)
    section.settings.append(setting)
    try:
        roles = _pages(probe, "iam", "ListRoles", "Roles")
    except Skipped as exc:
        _skip(section, exc)
        found.unread.add("iam")
        setting.todo = (
            "the roles could not be listed (see SKIPPED above): name the data-access role"
        )
        return section, []
    trusted: list[Value] = []
    others = 0
    for role in sorted(roles, key=lambda r: str(r["Arn"])):
        arn = str(role["Arn"])
        if str(role.get("Path", "/")).startswith("/aws-service-role/"):
            continue  # service-linked: AWS's own, never a data-access role
        try:
            check = _trust(arn, policy_json(role.get("AssumeRolePolicyDocument") or {}))
        except (ValueError, TypeError, AttributeError) as exc:  # not a policy we can read
            setting.notes.append(
                f"not proposed: {arn}: its trust policy could not be read ({type(exc).__name__})"
            )
            continue
        if check.status == "PASS":
            trusted.append(Value(arn, check.reason))
        elif check.status == "WARN":
            setting.notes.append(f"not proposed: {arn}: {check.reason}")
        else:
            others += 1
    if others:
        setting.notes.append(
            f"{others} other role(s) do not let {COMPREHEND_PRINCIPAL} assume them"
        )
    setting.values = trusted
    if not trusted:
        setting.todo = (
            f"no role lets {COMPREHEND_PRINCIPAL} assume it: create one with "
            "'secure-comprehend policy --kind data-access-role' and name it here"
        )
    elif len(trusted) > 1:
        setting.todo = (
            "the first role is injected when a request names none: put that one first, "
            "remove the roles not meant for Comprehend jobs, then delete this line"
        )
    return section, [v.text for v in trusted]


def _buckets(probe: Probe, found: Discovery, roles: list[str]) -> Section:
    """The buckets the roles' own policies let them read or write, as [s3] allowed_buckets."""
    from secure_comprehend.posture.sections import S3Settings

    section = Section("s3")
    setting = Setting("allowed_buckets", many=True)
    section.settings.append(setting)
    section.notes.append(
        "the buckets the roles above reach through their own policies (a bucket policy may "
        "grant more; it is not read here)"
    )
    if not roles:
        setting.todo = "name the buckets jobs read and write, or remove the [s3] section"
        return section
    owned: set[str] | None = None
    try:
        owned = {str(b["Name"]) for b in probe.call("s3", "ListBuckets").get("Buckets", [])}
    except Skipped as exc:
        _skip(section, exc)
    reach: dict[str, dict[str, set[str]]] = {}  # bucket -> role name -> actions
    everywhere: list[str] = []
    for arn in roles:
        name = arn.rsplit("/", 1)[1]
        try:
            statements = _statements(probe, name)
        except Skipped as exc:
            _skip(section, exc)
            continue
        for statement in statements:
            if statement.get("Effect") != "Allow" or "NotAction" in statement:
                continue
            actions = [str(a).lower() for a in as_list(statement.get("Action"))]
            granted = {
                need
                for need in (*S3_OBJECT_ACTIONS, "s3:ListBucket")
                if any(fnmatchcase(need.lower(), a) for a in actions)
            }
            if not granted:
                continue
            for resource in map(str, as_list(statement.get("Resource"))):
                bucket = _bucket_of(resource)
                if bucket is None:
                    continue
                if bucket in ("*", ""):
                    everywhere.append(name)
                else:
                    reach.setdefault(bucket, {}).setdefault(name, set()).update(granted)
    for bucket in sorted(reach):
        who = "; ".join(
            f"{role} may {', '.join(sorted(actions))}" for role, actions in reach[bucket].items()
        )
        try:
            S3Settings(allowed_buckets=(bucket,))
        except ValueError:
            setting.notes.append(
                f"not proposed: {bucket!r} ({who}): not a name or prefix* [s3] takes"
            )
            continue
        # bucket names are global: only a bucket seen in this account is proposed
        if bucket.endswith("*"):
            why_not = "a prefix: bucket names are global, so it matches others' buckets too"
        elif owned is None:
            why_not = "whether this account owns it is unknown (s3:ListBuckets SKIPPED)"
        elif bucket not in owned:
            why_not = "not a bucket of this account: anyone may own a bucket of that name"
        else:
            setting.values.append(Value(bucket, f"{who}; a bucket of this account"))
            continue
        setting.notes.append(f"not proposed: {bucket!r} ({who}): {why_not}")
    if everywhere:
        setting.notes.append(
            f'{", ".join(sorted(set(everywhere)))} may reach every bucket (Resource "*"): '
            "only the buckets named are proposed"
        )
    if not setting.values:
        setting.todo = "name the buckets jobs read and write, or remove the [s3] section"
    return section


def _bucket_of(resource: str) -> str | None:
    """The bucket (or pattern) an S3 resource ARN names; "*" for every bucket; None when
    the resource is not an S3 bucket or object."""
    if resource == "*":
        return "*"
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[2] != "s3" or parts[0] != "arn":
        return None
    return parts[5].split("/", 1)[0]


# KMS keys.


@dataclass(frozen=True)
class _Key:
    arn: str
    aliases: tuple[str, ...]
    kind: str  # "comprehend": its policy names Comprehend; "account": delegates to IAM
    why: str

    @property
    def label(self) -> str:
        return f"{self.arn} ({', '.join(self.aliases)})" if self.aliases else self.arn


def _keys(probe: Probe, found: Discovery, roles: list[str]) -> Section:
    """Propose a key for each KMS member: the only candidate, else the one whose alias
    names what the member encrypts, else a TODO."""
    section = Section("kms")
    settings = {slot: Setting(slot, many=False) for slot in KMS_SLOTS}
    section.settings += settings.values()
    try:
        keys = _usable_keys(probe, section, found.account, roles)
    except Skipped as exc:
        _skip(section, exc)
        found.unread.add("kms")
        for slot, setting in settings.items():
            setting.todo = (
                f"the keys could not be listed (SKIPPED): the key for {KMS_SLOTS[slot][0]}"
            )
        return section
    best = [k for k in keys if k.kind == "comprehend"] or keys
    for key in keys:
        if key not in best:
            section.notes.append(f"not proposed: {key.label}: {key.why} (others name Comprehend)")
    if len(best) > 1:
        section.notes += [f"candidate: {key.label}: {key.why}" for key in best]
    for slot, setting in settings.items():
        what, hints = KMS_SLOTS[slot]
        hinted = [k for k in best if any(h in a.lower() for a in k.aliases for h in hints)]
        if len(best) == 1:
            only = best[0]
            setting.values = [Value(only.arn, f"{_aliased(only)}the only candidate: {only.why}")]
        elif len(hinted) == 1:
            key = hinted[0]
            setting.values = [Value(key.arn, f"{_aliased(key)}its alias names {what}; {key.why}")]
        elif best:
            setting.todo = f"choose the key for {what} among the candidates above"
        else:
            setting.todo = (
                f"no customer managed key of {probe.region} lets Comprehend use it: create one, "
                "add the statement of 'secure-comprehend policy --kind key-policy', name it here"
            )
    return section


def _usable_keys(
    probe: Probe, section: Section, account: str | None, roles: list[str]
) -> list[_Key]:
    """The region's customer managed keys that are enabled, symmetric, for encryption, and
    whose key policy lets Comprehend (or the account) use them; the others in notes."""
    listed = _pages(probe, "kms", "ListKeys", "Keys")
    aliases: dict[str, list[str]] = {}
    try:
        for alias in _pages(probe, "kms", "ListAliases", "Aliases"):
            if alias.get("TargetKeyId"):
                aliases.setdefault(str(alias["TargetKeyId"]), []).append(str(alias["AliasName"]))
    except Skipped as exc:
        _skip(section, exc)
    keys: list[_Key] = []
    managed_by_aws = 0
    for listed_key in sorted(listed, key=lambda k: str(k["KeyArn"])):
        arn = str(listed_key["KeyArn"])
        try:
            meta = probe.call("kms", "DescribeKey", KeyId=arn)["KeyMetadata"]
        except Skipped as exc:
            _skip(section, exc)
            continue
        if meta.get("KeyManager") != "CUSTOMER":
            managed_by_aws += 1
            continue
        named = tuple(sorted(aliases.get(str(meta.get("KeyId")), [])))
        label = _Key(arn, named, "", "").label
        check = _key_check("key", arn, meta, probe.region)
        if check.status != "PASS":
            section.notes.append(f"not proposed: {label}: {check.reason.removeprefix('key ')}")
            continue
        try:
            policy = probe.once("kms", "GetKeyPolicy", KeyId=arn, PolicyName="default")["Policy"]
        except Skipped as exc:
            _skip(section, exc)
            section.notes.append(f"not proposed: {label}: its key policy could not be read")
            continue
        except Exception as exc:  # deleted meanwhile, say
            section.notes.append(f"not proposed: {label}: {error_code(exc)} reading its policy")
            continue
        try:
            kind, why = _key_policy(policy_json(policy), account, roles)
        except (ValueError, TypeError, AttributeError) as exc:  # not a policy we can read
            kind, why = "no", f"its key policy could not be read ({type(exc).__name__})"
        if kind == "no":
            section.notes.append(f"not proposed: {label}: {why}")
        else:
            keys.append(_Key(arn, named, kind, why))
    if managed_by_aws:
        section.notes.append(
            f"{managed_by_aws} AWS managed key(s) left out: Comprehend needs customer managed keys"
        )
    return keys


def _aliased(key: _Key) -> str:
    return f"{', '.join(key.aliases)}: " if key.aliases else ""


def _key_policy(policy: dict[str, Any], account: str | None, roles: list[str]) -> tuple[str, str]:
    """Whether a key policy lets Comprehend use the key: ("comprehend", why) when it names
    a role Comprehend may assume, Comprehend's service principal or kms:ViaService for
    Comprehend; ("account", why) when it delegates to the account's IAM policies; else
    ("no", why). A statement must allow every action a job needs (KMS_ACTIONS)."""
    named: set[str] = set()  # the actions allowed to Comprehend by name
    delegated: set[str] = set()  # the actions allowed to the account
    naming: list[str] = []
    for statement in as_list(policy.get("Statement")):
        if "NotPrincipal" in statement or "NotAction" in statement:
            continue
        principal = statement.get("Principal", {})
        if isinstance(principal, dict):
            aws = [str(p) for p in as_list(principal.get("AWS"))]
            services = [str(s) for s in as_list(principal.get("Service"))]
        else:
            aws, services = [str(principal)], []
        actions = [str(a).lower() for a in as_list(statement.get("Action"))]
        covered = {a for a in KMS_ACTIONS if any(fnmatchcase(a.lower(), p) for p in actions)}
        if not covered:
            continue
        if statement.get("Effect") == "Deny":
            if not statement.get("Condition") and ("*" in aws or set(aws) & set(roles)):
                return "no", f"its policy denies {', '.join(sorted(covered))} without condition"
            continue
        if statement.get("Effect") != "Allow":
            continue
        via = [
            str(v)
            for test in (statement.get("Condition") or {}).values()
            if isinstance(test, dict)
            for k, values in test.items()
            if k.lower() == "kms:viaservice"
            for v in as_list(values)
        ]
        if ("*" in aws or "*" in services) and not _limited_to(statement, account):
            return "no", 'its key policy lets anyone use it (Principal "*" unlimited)'
        reasons = [f"names {r}, a role Comprehend may assume" for r in roles if r in aws]
        if COMPREHEND_PRINCIPAL in services:
            reasons.append(f"names the service principal {COMPREHEND_PRINCIPAL}")
        if any(v.startswith("comprehend.") for v in via):
            reasons.append("allows it through Comprehend (kms:ViaService)")
        if reasons:
            named |= covered
            naming += [r for r in reasons if r not in naming]
        elif not via and (
            "*" in aws
            or (account is not None and (account in aws or f":{account}:root" in " ".join(aws)))
        ):
            delegated |= covered
    if naming and named >= set(KMS_ACTIONS):
        return "comprehend", f"its key policy {'; '.join(naming)}"
    if delegated >= set(KMS_ACTIONS):
        note = (
            f" (it {'; '.join(naming)}, but for {', '.join(sorted(named))} only)" if naming else ""
        )
        return "account", (
            f"its key policy delegates to account {account}, so a role's own IAM policies "
            f"decide{note}"
        )
    if naming:
        missing = ", ".join(sorted(set(KMS_ACTIONS) - named))
        return "no", f"its key policy {'; '.join(naming)}, but does not allow {missing}"
    return (
        "no",
        "its key policy names no role Comprehend may assume, nor Comprehend, nor the account",
    )


def _limited_to(statement: dict[str, Any], account: str | None) -> bool:
    """Whether a statement open to any principal is limited to ``account`` by a condition
    (aws:PrincipalAccount, kms:CallerAccount or aws:SourceAccount equal to it)."""
    keys = ("aws:principalaccount", "kms:calleraccount", "aws:sourceaccount")
    return account is not None and any(
        k.lower() in keys and as_list(values) == [account]
        for operator, test in (statement.get("Condition") or {}).items()
        if operator == "StringEquals" and isinstance(test, dict)
        for k, values in test.items()
    )
