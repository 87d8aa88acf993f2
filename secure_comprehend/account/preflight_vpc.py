"""Preflight: the posture's subnets, security groups, and each subnet's path to S3."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.preflight_acl import ANYWHERE, Destination, Destinations, network_acl
from secure_comprehend.account.report import Check, Skipped, Status

if TYPE_CHECKING:
    from secure_comprehend.account.report import PreflightReport, Probe
    from secure_comprehend.posture.model import EffectivePosture


def _subnets(probe: Probe, ids: tuple[str, ...]) -> list[dict[str, Any]]:
    found = probe.call(
        "ec2", "DescribeSubnets", Filters=[{"Name": "subnet-id", "Values": list(ids)}]
    )
    return list(found["Subnets"])


def subnets(probe: Probe, posture: EffectivePosture, _: PreflightReport) -> Iterator[Check]:
    """Each subnet exists; all in one default-tenancy VPC; more than one zone."""
    if posture.vpc is None:
        yield Check("subnets", "-", "SKIPPED", "no [vpc] section in the posture")
        return
    found = {s["SubnetId"]: s for s in _subnets(probe, posture.vpc.subnets)}
    for subnet in posture.vpc.subnets:
        if subnet in found:
            info = found[subnet]
            yield Check(
                "subnets", subnet, "PASS", f"exists in {info['VpcId']}, {info['AvailabilityZone']}"
            )
        else:
            yield Check("subnets", subnet, "FAIL", f"does not exist in {probe.region}")
    vpcs = sorted({s["VpcId"] for s in found.values()})
    if len(vpcs) > 1:
        yield Check(
            "subnets", ", ".join(vpcs), "FAIL", "the subnets are in several VPCs; a job uses one"
        )
    for subnet in posture.vpc.subnets:
        free = found[subnet].get("AvailableIpAddressCount") if subnet in found else None
        if free is not None and free < _FEW_ADDRESSES:
            status: Status = "FAIL" if free == 0 else "WARN"
            yield Check(
                "subnets",
                subnet,
                status,
                f"{free} free IP address(es): each job's network interfaces need some; "
                "free addresses or add a subnet",
            )
    for vpc in probe.call("ec2", "DescribeVpcs", VpcIds=vpcs)["Vpcs"] if vpcs else []:
        yield from _dns(probe, vpc["VpcId"])
        tenancy = vpc.get("InstanceTenancy", "default")
        if tenancy == "default":
            yield Check("subnets", vpc["VpcId"], "PASS", "VPC has default instance tenancy")
        else:
            yield Check(
                "subnets",
                vpc["VpcId"],
                "FAIL",
                f"VPC has {tenancy} instance tenancy; Comprehend needs default tenancy",
            )
    zones = sorted({s["AvailabilityZone"] for s in found.values()})
    if len(zones) == 1:
        yield Check("subnets", zones[0], "WARN", "every subnet is in one Availability Zone")


_FEW_ADDRESSES = 10


def _dns(probe: Probe, vpc: str) -> Iterator[Check]:
    """DNS support (needed to resolve S3 at all) and DNS hostnames (private DNS names)."""
    checks: tuple[tuple[str, str, Status], ...] = (
        ("enableDnsSupport", "EnableDnsSupport", "FAIL"),
        ("enableDnsHostnames", "EnableDnsHostnames", "WARN"),
    )
    for attribute, key, status in checks:
        answer = probe.call("ec2", "DescribeVpcAttribute", VpcId=vpc, Attribute=attribute)
        if answer.get(key, {}).get("Value"):
            yield Check("subnets", vpc, "PASS", f"VPC has {attribute} on")
        else:
            yield Check(
                "subnets",
                vpc,
                status,
                f"VPC has {attribute} off: jobs resolve S3 through the VPC's DNS. Fix: "
                f"aws ec2 modify-vpc-attribute --vpc-id {vpc} --{_kebab(attribute)}",
            )


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name)


def _s3_prefix_list(probe: Probe) -> str | None:
    name = f"com.amazonaws.{probe.region}.s3"
    lists = probe.call(
        "ec2",
        "DescribeManagedPrefixLists",
        Filters=[{"Name": "prefix-list-name", "Values": [name]}],
    )["PrefixLists"]
    return str(lists[0]["PrefixListId"]) if lists else None


def _allows_https(rule: dict[str, Any], to: _S3Addresses) -> bool:
    """Whether an egress rule lets HTTPS out to S3 as the VPC reaches it: anywhere, or the
    prefix list (a gateway endpoint, NAT), or the interface endpoint (a CIDR holding every
    one of its addresses, or one of its security groups)."""
    protocol = str(rule.get("IpProtocol"))
    if protocol not in ("-1", "tcp", "6"):
        return False
    if protocol != "-1" and not rule.get("FromPort", 0) <= 443 <= rule.get("ToPort", 65535):
        return False
    cidrs = [IPv4Network(str(r["CidrIp"]), strict=False) for r in rule.get("IpRanges", [])]
    if any(c.prefixlen == 0 for c in cidrs):
        return True
    if to.interface is None:
        return to.prefix_list is not None and any(
            p.get("PrefixListId") == to.prefix_list for p in rule.get("PrefixListIds", [])
        )
    groups = {str(p.get("GroupId")) for p in rule.get("UserIdGroupPairs", [])}
    return bool(groups & to.groups) or (
        bool(to.addresses)
        and all(any(address.subnet_of(c) for c in cidrs) for address in to.addresses)
    )


@dataclass(frozen=True)
class _S3Addresses:
    """Where a VPC's jobs reach S3: the prefix list, or an S3 interface endpoint."""

    prefix_list: str | None
    interface: str | None = None  # the endpoint IDs, when private DNS makes them the path
    addresses: tuple[IPv4Network, ...] = ()
    groups: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.interface is not None:
            return f"the S3 interface endpoint {self.interface}"
        return f"the S3 prefix list {self.prefix_list}" if self.prefix_list else "S3"


def _s3_addresses(
    probe: Probe, vpcs: list[str], prefix_list: str | None
) -> dict[str, _S3Addresses]:
    """Per VPC, where its jobs reach S3 (an interface endpoint not found: the prefix list)."""
    try:
        interfaces = _interface_endpoints(probe, vpcs)
    except Skipped:  # s3 path says so; here the prefix list is assumed
        interfaces = {}
    found = {vpc: _S3Addresses(prefix_list) for vpc in vpcs}
    for vpc, endpoints in interfaces.items():
        destination = Destinations(probe).interface(endpoints, subnet="")
        found[vpc] = _S3Addresses(
            prefix_list,
            ", ".join(sorted(str(e["VpcEndpointId"]) for e in endpoints)),
            destination.networks,
            frozenset(str(g.get("GroupId")) for e in endpoints for g in e.get("Groups", [])),
        )
    return found


def security_groups(probe: Probe, posture: EffectivePosture, _: PreflightReport) -> Iterator[Check]:
    """Each group exists, is in the subnets' VPC, and some group lets HTTPS out to S3."""
    if posture.vpc is None:
        yield Check("security groups", "-", "SKIPPED", "no [vpc] section in the posture")
        return
    groups = probe.call(
        "ec2",
        "DescribeSecurityGroups",
        Filters=[{"Name": "group-id", "Values": list(posture.vpc.security_group_ids)}],
    )["SecurityGroups"]
    found = {g["GroupId"]: g for g in groups}
    vpcs = {s["VpcId"] for s in _subnets(probe, posture.vpc.subnets)}
    for group in posture.vpc.security_group_ids:
        if group not in found:
            yield Check("security groups", group, "FAIL", f"does not exist in {probe.region}")
        elif vpcs and found[group]["VpcId"] not in vpcs:
            yield Check(
                "security groups",
                group,
                "FAIL",
                f"is in {found[group]['VpcId']}, not the subnets' VPC {', '.join(sorted(vpcs))}",
            )
        else:
            yield Check("security groups", group, "PASS", f"exists in {found[group]['VpcId']}")
    subject = f"egress of {', '.join(posture.vpc.security_group_ids)}"
    if not found:  # each missing group FAILed above; egress depends on groups that exist
        yield Check(
            "security groups", subject, "SKIPPED", "no security group of the posture exists"
        )
        return
    prefix_list = _s3_prefix_list(probe)
    reach = _s3_addresses(probe, sorted(vpcs), prefix_list)
    ours = [g for g in groups if not vpcs or g["VpcId"] in vpcs]  # another VPC's: no job
    for vpc in sorted({g["VpcId"] for g in ours}):
        to = reach.get(vpc, _S3Addresses(prefix_list))
        allowing = sorted(
            g["GroupId"]
            for g in ours
            if g["VpcId"] == vpc
            and any(_allows_https(rule, to) for rule in g.get("IpPermissionsEgress", []))
        )
        if allowing:
            yield Check(
                "security groups",
                subject,
                "PASS",
                f"HTTPS egress to {to} allowed by {', '.join(allowing)}",
            )
        else:
            yield Check(
                "security groups",
                subject,
                "FAIL",
                f"no egress rule allows HTTPS (443) to {to} or 0.0.0.0/0: jobs cannot reach S3",
            )


def s3_paths(probe: Probe, posture: EffectivePosture, _: PreflightReport) -> Iterator[Check]:
    """Every subnet reaches S3: an S3 interface endpoint its VPC's DNS resolves S3 to, else
    its route table's gateway endpoint or NAT gateway; its network ACL passes that traffic."""
    if posture.vpc is None:
        yield Check("s3 path", "-", "SKIPPED", "no [vpc] section in the posture")
        return
    prefix_list = _s3_prefix_list(probe)
    found = _subnets(probe, posture.vpc.subnets)
    vpcs = sorted({s["VpcId"] for s in found})
    try:
        interfaces = _interface_endpoints(probe, vpcs)
    except Skipped as exc:
        interfaces = {}
        yield Check(
            "s3 path",
            ", ".join(vpcs),
            "WARN",
            f"could not look for an S3 interface endpoint ({exc}): the network ACL checks "
            "assume the route table's path to S3",
        )
    destinations = Destinations(probe)
    checked: set[str] = set()  # subnets often share a route table, so an endpoint
    for subnet in found:
        table = _route_table(probe, subnet)
        subject = subnet["SubnetId"]
        if table is None:
            yield Check("s3 path", subject, "FAIL", "no route table found for the subnet")
            continue
        table_id = table["RouteTableId"]
        routes = [r for r in table.get("Routes", []) if r.get("State", "active") == "active"]
        gateway_routes = [
            r
            for r in routes
            if str(r.get("GatewayId", "")).startswith("vpce-")
            and (prefix_list is None or r.get("DestinationPrefixListId") == prefix_list)
        ]
        endpoints = [str(r["GatewayId"]) for r in gateway_routes]
        nat = any(
            r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("NatGatewayId") for r in routes
        )
        interface = interfaces.get(subnet["VpcId"], [])
        if interface:
            destination = destinations.interface(interface, subject)
        elif endpoints:
            destination = destinations.prefix_list(
                gateway_routes[0].get("DestinationPrefixListId") or prefix_list
            )
        else:  # a NAT gateway, or no path: HTTPS out to anywhere, as before
            destination = Destination("0.0.0.0/0", (ANYWHERE,), anywhere_only=True)
        yield from network_acl(probe, subject, destination)
        if interface:
            ids = [str(e["VpcEndpointId"]) for e in interface]
            yield Check(
                "s3 path",
                subject,
                "PASS",
                f"{subnet['VpcId']} resolves S3's names to the interface endpoint "
                f"{', '.join(ids)} (private DNS)",
            )
            yield from _judge_endpoints([e for e in interface if e["VpcEndpointId"] not in checked])
            checked.update(ids)
        elif endpoints:
            yield Check("s3 path", subject, "PASS", f"{table_id} routes S3 to a gateway endpoint")
            yield from _endpoints(probe, sorted(set(endpoints) - checked))
            checked.update(endpoints)
        elif nat:
            yield Check(
                "s3 path", subject, "PASS", f"{table_id} has a default route to a NAT gateway"
            )
        else:
            yield Check(
                "s3 path",
                subject,
                "FAIL",
                f"{table_id} has no route to an S3 gateway endpoint nor a default route to a NAT "
                "gateway (an internet gateway does not count: the job's network interfaces get "
                "private addresses only); jobs will fail with NO_READ_ACCESS_TO_INPUT. Fix: "
                f"create a Gateway VPC endpoint for com.amazonaws.{probe.region}.s3 on {table_id}",
            )


def _interface_endpoints(probe: Probe, vpcs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per VPC, its available S3 interface endpoints whose private DNS answers the VPC's own
    lookups: a job there resolves S3's names to their network interfaces, whatever the route
    table says (with private DNS for inbound endpoints only, the VPC uses its gateway endpoint;
    without private DNS, S3's public addresses)."""
    if not vpcs:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    token: dict[str, str] = {}
    while True:
        page = probe.call(
            "ec2",
            "DescribeVpcEndpoints",
            Filters=[
                {"Name": "vpc-id", "Values": vpcs},
                {"Name": "service-name", "Values": [f"com.amazonaws.{probe.region}.s3"]},
                {"Name": "vpc-endpoint-type", "Values": ["Interface"]},
            ],
            **token,
        )
        for endpoint in page.get("VpcEndpoints", []):
            if (
                str(endpoint.get("State", "")).lower() == "available"
                and endpoint.get("PrivateDnsEnabled")
                and not endpoint.get("DnsOptions", {}).get(
                    "PrivateDnsOnlyForInboundResolverEndpoint"
                )
            ):
                found.setdefault(str(endpoint["VpcId"]), []).append(endpoint)
        if not page.get("NextToken"):
            return found
        token = {"NextToken": str(page["NextToken"])}


def _route_table(probe: Probe, subnet: dict[str, Any]) -> dict[str, Any] | None:
    """The subnet's own route table, else its VPC's main one."""
    for filters in (
        [{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}],
        [
            {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ],
    ):
        tables = probe.call("ec2", "DescribeRouteTables", Filters=filters)["RouteTables"]
        if tables:
            return dict(tables[0])
    return None


def _endpoints(probe: Probe, ids: list[str]) -> Iterator[Check]:
    """The S3 endpoint is available and its policy does not deny everything."""
    if not ids:
        return
    yield from _judge_endpoints(
        probe.call("ec2", "DescribeVpcEndpoints", VpcEndpointIds=ids)["VpcEndpoints"]
    )


def _judge_endpoints(found: list[dict[str, Any]]) -> Iterator[Check]:
    import json

    for endpoint in found:
        subject, state = endpoint["VpcEndpointId"], str(endpoint.get("State", "")).lower()
        kind = str(endpoint.get("VpcEndpointType") or "gateway").lower()
        if state != "available":
            yield Check("s3 endpoint", subject, "FAIL", f"the S3 {kind} endpoint is {state or '?'}")
            continue
        policy = json.loads(endpoint.get("PolicyDocument") or "{}")
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        blanket_deny = any(
            s.get("Effect") == "Deny"
            and not s.get("Condition")
            and set(_listed(s.get("Action"))) & {"*", "s3:*"}
            and "*" in _listed(s.get("Resource"))
            for s in statements
        )
        allows = any(s.get("Effect") == "Allow" for s in statements)
        if blanket_deny or (policy and not allows):
            yield Check(
                "s3 endpoint",
                subject,
                "FAIL",
                f"the S3 {kind} endpoint's policy denies every S3 request: allow the job's buckets",
            )
        else:
            yield Check("s3 endpoint", subject, "PASS", "available, and its policy allows S3")


def _listed(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]
