"""doctor's network-ACL check: it credits the addresses the job's S3 traffic goes to.

Each test builds only the VPC objects it needs in moto and runs the "s3 path" area
(route table, network ACL, endpoint) for one subnet. moto's region S3 prefix list holds
52.216.0.0/15, 3.5.0.0/19 and 54.231.0.0/16; the tests read it rather than assume it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
import pytest

import secure_comprehend as sc
from secure_comprehend.account.preflight_vpc import s3_paths
from secure_comprehend.account.report import Check, PreflightReport, Probe

pytestmark = pytest.mark.usefixtures("moto")
REGION = "us-east-1"
GROUP = "sg-0123456789abcdef0"  # s3_paths reads the subnets only
EPHEMERAL = (1024, 65535)

Rule = tuple[int, str, str, tuple[int, int]]  # number, allow or deny, CIDR, ports


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def network(prefix: str = "10.60") -> tuple[str, str, str]:
    """A VPC ``prefix``.0.0/16, one subnet in it, and the subnet's own route table."""
    client = ec2()
    vpc = client.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnet = client.create_subnet(
        VpcId=vpc, CidrBlock=f"{prefix}.1.0/24", AvailabilityZone=f"{REGION}a"
    )["Subnet"]["SubnetId"]
    table = client.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    client.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return vpc, subnet, table


def gateway_endpoint(vpc: str, table: str) -> list[str]:
    """An S3 gateway endpoint on ``table``; the CIDRs of its prefix list."""
    client = ec2()
    client.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=[table],
        VpcEndpointType="Gateway",
    )
    [route] = [
        r
        for r in client.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        if r.get("DestinationPrefixListId")
    ]
    entries = client.get_managed_prefix_list_entries(PrefixListId=route["DestinationPrefixListId"])
    return [e["Cidr"] for e in entries["Entries"]]


def network_acl(vpc: str, subnet: str, egress: Iterable[Rule], ingress: Iterable[Rule]) -> str:
    """A new network ACL (it denies everything) with these TCP rules, on ``subnet``."""
    client = ec2()
    acl = client.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for out, rules in ((True, egress), (False, ingress)):
        for number, action, cidr, (low, high) in rules:
            client.create_network_acl_entry(
                NetworkAclId=acl,
                RuleNumber=number,
                Protocol="6",
                RuleAction=action,
                Egress=out,
                CidrBlock=cidr,
                PortRange={"From": low, "To": high},
            )
    [current] = client.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}]
    )["NetworkAcls"]
    [association] = [a for a in current["Associations"] if a["SubnetId"] == subnet]
    client.replace_network_acl_association(
        AssociationId=association["NetworkAclAssociationId"], NetworkAclId=acl
    )
    return str(acl)


def https_to(cidrs: Iterable[str], first: int = 100) -> list[Rule]:
    return [(first + 10 * i, "allow", c, (443, 443)) for i, c in enumerate(cidrs)]


def answers_from(cidrs: Iterable[str], first: int = 100) -> list[Rule]:
    return [(first + 10 * i, "allow", c, EPHEMERAL) for i, c in enumerate(cidrs)]


def run(subnet: str, session: boto3.Session | None = None) -> list[Check]:
    posture = sc.Posture(vpc={"subnets": [subnet], "security_group_ids": [GROUP]})
    probe = Probe(session or boto3.Session(region_name=REGION), REGION)
    return list(s3_paths(probe, posture.effective(REGION), PreflightReport(REGION)))


def acl_checks(checks: list[Check], subnet: str) -> list[Check]:
    return [c for c in checks if c.area == "network acl" and c.subject == subnet]


def test_a_gateway_endpoint_subnet_whose_acl_allows_only_the_prefix_list_passes() -> None:
    vpc, subnet, table = network()
    cidrs = gateway_endpoint(vpc, table)
    acl = network_acl(vpc, subnet, https_to(cidrs), answers_from(cidrs))
    checks = acl_checks(run(subnet), subnet)
    assert [c.status for c in checks] == ["PASS", "PASS"], checks
    assert all(acl in c.reason for c in checks)
    assert all(cidr in checks[0].reason for cidr in cidrs)  # it says what it credited


def test_a_deny_numbered_before_the_allow_fails_naming_the_rule_and_the_range() -> None:
    vpc, subnet, table = network()
    cidrs = gateway_endpoint(vpc, table)
    wide = next(c for c in cidrs if c.endswith("/15"))  # 52.216.0.0/15
    upper = wide.replace(".216.0.0/15", ".217.0.0/16")  # its upper half
    acl = network_acl(
        vpc, subnet, [(90, "deny", upper, (443, 443)), *https_to(cidrs)], answers_from(cidrs)
    )
    out, back = acl_checks(run(subnet), subnet)
    assert out.status == "FAIL"
    assert acl in out.reason and "rule 90" in out.reason and upper in out.reason
    assert back.status == "PASS"


def test_a_prefix_list_range_or_ephemeral_port_left_uncovered_fails_naming_it() -> None:
    vpc, subnet, table = network()
    cidrs = gateway_endpoint(vpc, table)
    wide = next(c for c in cidrs if c.endswith("/15"))
    lower = wide.replace("/15", "/16")  # 52.216.0.0/16 only: 52.217.0.0/16 is not allowed
    others = [c for c in cidrs if c != wide]
    linux = [(100 + 10 * i, "allow", c, (32768, 65535)) for i, c in enumerate(cidrs)]
    acl = network_acl(vpc, subnet, https_to([lower, *others]), linux)
    out, back = acl_checks(run(subnet), subnet)
    assert out.status == "FAIL" and acl in out.reason
    assert wide.replace(".216.0.0/15", ".217.0.0/16") in out.reason
    assert back.status == "FAIL" and acl in back.reason and "1024-32767" in back.reason


def interface_endpoint(vpc: str, subnet: str, **kw: Any) -> tuple[str, list[str]]:
    """An S3 interface endpoint with a network interface in ``subnet``; its addresses.

    moto gives the endpoint's network interface an address in 10.0.0.0/8 that is not
    in its subnet's CIDR, so the tests allow 10.0.0.0/8 (which covers the VPC) rather
    than the endpoint subnet's CIDR.
    """
    client = ec2()
    endpoint = client.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        SubnetIds=[subnet],
        VpcEndpointType="Interface",
        **kw,
    )["VpcEndpoint"]
    enis = client.describe_network_interfaces(NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])
    return str(endpoint["VpcEndpointId"]), [
        a["PrivateIpAddress"]
        for eni in enis["NetworkInterfaces"]
        for a in eni["PrivateIpAddresses"]
    ]


def test_an_interface_endpoint_is_reached_at_its_network_interfaces_addresses() -> None:
    vpc, subnet, _ = network()
    endpoint_subnet = ec2().create_subnet(
        VpcId=vpc, CidrBlock="10.60.2.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    endpoint, addresses = interface_endpoint(vpc, endpoint_subnet)
    acl = network_acl(vpc, subnet, https_to(["10.0.0.0/8"]), answers_from(["10.0.0.0/8"]))
    checks = run(subnet)
    path = [c for c in checks if c.area == "s3 path" and c.subject == subnet]
    assert [c.status for c in path] == ["PASS"] and endpoint in path[0].reason
    network_checks = acl_checks(checks, subnet)
    assert [c.status for c in network_checks] == ["PASS", "PASS"], network_checks
    assert all(acl in c.reason and endpoint in c.reason for c in network_checks)

    # an ACL that lets HTTPS out only to another range names the endpoint's address
    other_vpc, other_subnet, _ = network("10.70")
    other_endpoint_subnet = ec2().create_subnet(
        VpcId=other_vpc, CidrBlock="10.70.2.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    _, [address] = interface_endpoint(other_vpc, other_endpoint_subnet)
    closed = network_acl(
        other_vpc, other_subnet, https_to(["192.168.0.0/16"]), answers_from(["10.0.0.0/8"])
    )
    out, back = acl_checks(run(other_subnet), other_subnet)
    assert out.status == "FAIL" and closed in out.reason and f"{address}/32" in out.reason
    assert back.status == "PASS"
    assert addresses  # the first endpoint had an address to credit


def test_an_interface_endpoint_without_private_dns_is_not_the_path() -> None:
    """Without private DNS the job resolves S3's public names: the route table decides."""
    vpc, subnet, _ = network()
    interface_endpoint(vpc, subnet, PrivateDnsEnabled=False)
    network_acl(vpc, subnet, https_to(["10.0.0.0/8"]), answers_from(["10.0.0.0/8"]))
    checks = run(subnet)
    assert [c.status for c in checks if c.area == "s3 path"] == ["FAIL"]
    assert [c.status for c in acl_checks(checks, subnet)] == ["FAIL", "FAIL"]  # 0.0.0.0/0


def test_a_nat_subnet_still_needs_0_0_0_0_0() -> None:
    """The NAT path keeps today's rule: only 0.0.0.0/0 rules are credited."""
    client = ec2()
    vpc, subnet, table = network()
    public = client.create_subnet(
        VpcId=vpc, CidrBlock="10.60.9.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    allocation = client.allocate_address(Domain="vpc")["AllocationId"]
    nat = client.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"][
        "NatGatewayId"
    ]
    client.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    cidrs = [
        e["Cidr"]
        for e in client.get_managed_prefix_list_entries(
            PrefixListId=client.describe_managed_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}]
            )["PrefixLists"][0]["PrefixListId"]
        )["Entries"]
    ]
    acl = network_acl(vpc, subnet, https_to(cidrs), answers_from(cidrs))
    checks = acl_checks(run(subnet), subnet)
    assert [c.status for c in checks] == ["FAIL", "FAIL"]
    assert all(acl in c.reason and "0.0.0.0/0" in c.reason for c in checks)


def refusing(
    operation: str, code: str = "UnauthorizedOperation", status: int = 403
) -> tuple[boto3.Session, list[str]]:
    """A session whose EC2 client is refused ``operation``; the calls it refused.

    moto has every EC2 call used here but enforces no IAM, so it cannot refuse one. A
    ``before-call`` handler answers just that operation with UnauthorizedOperation
    (botocore's Stubber answers calls the same way, but it would have to answer every
    EC2 call of the client); moto answers the rest.
    """
    from botocore.awsrequest import AWSResponse

    session = boto3.Session(region_name=REGION)
    refused: list[str] = []

    def refuse(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        refused.append(model.name)
        error = {"Code": code, "Message": "no"}
        return AWSResponse("", status, {}, None), {"Error": error, "ResponseMetadata": {}}

    session.events.register(f"before-call.ec2.{operation}", refuse)
    return session, refused


def test_a_prefix_list_that_cannot_be_read_warns() -> None:
    """AccessDenied on GetManagedPrefixListEntries (see ``refusing``): WARN, not PASS or FAIL."""
    vpc, subnet, table = network()
    cidrs = gateway_endpoint(vpc, table)
    acl = network_acl(vpc, subnet, https_to(cidrs), answers_from(cidrs))
    session, refused = refusing("GetManagedPrefixListEntries")
    checks = run(subnet, session)
    assert refused == ["GetManagedPrefixListEntries"]
    [check] = acl_checks(checks, subnet)
    assert check.status == "WARN"
    assert acl in check.reason and "needs ec2:GetManagedPrefixListEntries" in check.reason
    assert "the S3 prefix list pl-" in check.reason and "not verified" in check.reason
    # the path itself is known: the route table targets the gateway endpoint
    assert [c.status for c in checks if c.area == "s3 path"] == ["PASS"]


def test_interface_endpoint_addresses_that_cannot_be_read_warn() -> None:
    """AccessDenied on DescribeNetworkInterfaces (see ``refusing``): WARN naming the endpoint."""
    vpc, subnet, _ = network()
    endpoint_subnet = ec2().create_subnet(
        VpcId=vpc, CidrBlock="10.60.2.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    endpoint, _ = interface_endpoint(vpc, endpoint_subnet)
    acl = network_acl(vpc, subnet, https_to(["10.0.0.0/8"]), answers_from(["10.0.0.0/8"]))
    session, refused = refusing("DescribeNetworkInterfaces")
    [check] = acl_checks(run(subnet, session), subnet)
    assert refused == ["DescribeNetworkInterfaces"]
    assert check.status == "WARN" and acl in check.reason and endpoint in check.reason
    assert "needs ec2:DescribeNetworkInterfaces" in check.reason


def test_an_interface_endpoint_in_the_job_s_own_subnet_is_not_filtered_by_its_acl() -> None:
    """A network ACL filters traffic that enters or leaves the subnet, not traffic within it."""
    vpc, subnet, _ = network()
    endpoint, _ = interface_endpoint(vpc, subnet)
    acl = network_acl(vpc, subnet, [], [])  # denies everything that crosses it
    [check] = acl_checks(run(subnet), subnet)
    assert check.status == "PASS" and acl in check.reason and endpoint in check.reason


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("GetManagedPrefixListEntries", "InvalidPrefixListID.NotFound"),
        ("GetManagedPrefixListEntries", "RequestLimitExceeded"),
    ],
)
def test_addresses_that_cannot_be_read_for_any_reason_warn(operation: str, code: str) -> None:
    """Not only a refusal: a prefix list gone or a throttled read is WARN, never a crash."""
    vpc, subnet, table = network()
    cidrs = gateway_endpoint(vpc, table)
    network_acl(vpc, subnet, https_to(cidrs), answers_from(cidrs))
    session, _ = refusing(operation, code, 400)
    [check] = acl_checks(run(subnet, session), subnet)
    assert check.status == "WARN" and code in check.reason and "not verified" in check.reason


def egress_checks(vpc: str, subnet: str, rule: dict[str, Any]) -> list[Check]:
    """The security-group area for one group in ``vpc`` whose only egress is ``rule``."""
    from secure_comprehend.account.preflight_vpc import security_groups

    client = ec2()
    group = client.create_security_group(GroupName=f"g-{vpc}", Description="d", VpcId=vpc)[
        "GroupId"
    ]
    client.revoke_security_group_egress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    client.authorize_security_group_egress(
        GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **rule}]
    )
    posture = sc.Posture(vpc={"subnets": [subnet], "security_group_ids": [group]})
    probe = Probe(boto3.Session(region_name=REGION), REGION)
    checks = security_groups(probe, posture.effective(REGION), PreflightReport(REGION))
    return [c for c in checks if c.subject.startswith("egress of")]


def test_egress_through_an_interface_endpoint_is_judged_by_its_addresses() -> None:
    """With an S3 interface endpoint (private DNS) the job reaches S3 at the endpoint's own
    addresses: egress to the prefix list is no path, egress to the VPC's range is."""
    vpc, subnet, _ = network()
    endpoint_subnet = ec2().create_subnet(
        VpcId=vpc, CidrBlock="10.60.2.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    endpoint, _ = interface_endpoint(vpc, endpoint_subnet)
    prefix_list = ec2().describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{REGION}.s3"]}]
    )["PrefixLists"][0]["PrefixListId"]
    [only_prefix_list] = egress_checks(
        vpc, subnet, {"PrefixListIds": [{"PrefixListId": prefix_list}]}
    )
    assert only_prefix_list.status == "FAIL" and endpoint in only_prefix_list.reason
    other_vpc, other_subnet, _ = network("10.70")
    other_endpoint_subnet = ec2().create_subnet(
        VpcId=other_vpc, CidrBlock="10.70.2.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    interface_endpoint(other_vpc, other_endpoint_subnet)
    [to_the_vpc] = egress_checks(other_vpc, other_subnet, {"IpRanges": [{"CidrIp": "10.0.0.0/8"}]})
    assert to_the_vpc.status == "PASS" and "interface endpoint" in to_the_vpc.reason
