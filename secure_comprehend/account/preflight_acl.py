"""Preflight: a subnet's network ACL passes the job's traffic to S3, both ways.

Network ACLs are stateless: HTTPS goes out to S3's addresses on 443 and the answers
come back to an ephemeral port (1024-65535), each direction judged on its own rules
in rule-number order, the first rule that matches a packet deciding it (IPv4 only).
S3's addresses are those the job uses: the gateway endpoint's prefix list, the
interface endpoint's network interfaces, else anywhere (0.0.0.0/0, via NAT).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network, collapse_addresses
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.report import Check, Skipped, error_code

if TYPE_CHECKING:
    from secure_comprehend.account.report import Probe

ANYWHERE = IPv4Network("0.0.0.0/0")
_DEFAULT_RULE = 32767  # the "*" rule that ends every network ACL and denies what is left


@dataclass(frozen=True)
class Destination:
    """The addresses a subnet's S3 traffic goes to, as the subnet's network ACL sees them."""

    name: str  # "the S3 prefix list pl-...", "interface endpoint vpce-...", "0.0.0.0/0"
    networks: tuple[IPv4Network, ...] = ()  # empty: none outside the subnet (or unknown)
    anywhere_only: bool = False  # the NAT path: only 0.0.0.0/0 rules are credited
    unknown: str | None = None  # why the addresses could not be read: WARN, never PASS


class Destinations:
    """Reads each prefix list's and interface endpoint's addresses once."""

    def __init__(self, probe: Probe) -> None:
        self._probe = probe
        self._lists: dict[str, Destination] = {}
        self._interfaces: dict[tuple[str, ...], list[tuple[str, IPv4Network]] | str] = {}

    def prefix_list(self, prefix_list: str | None) -> Destination:
        """A gateway endpoint's traffic goes to its prefix list's CIDRs."""
        if prefix_list is None:
            return Destination("the S3 prefix list", unknown="the route names no prefix list")
        if prefix_list not in self._lists:
            self._lists[prefix_list] = self._read_prefix_list(prefix_list)
        return self._lists[prefix_list]

    def _read_prefix_list(self, prefix_list: str) -> Destination:
        name = f"the S3 prefix list {prefix_list}"
        cidrs: list[str] = []
        token: dict[str, str] = {}
        try:
            while True:
                page = self._probe.call(
                    "ec2", "GetManagedPrefixListEntries", PrefixListId=prefix_list, **token
                )
                cidrs += [str(e["Cidr"]) for e in page.get("Entries", []) if "Cidr" in e]
                if not page.get("NextToken"):
                    break
                token = {"NextToken": str(page["NextToken"])}
        except Exception as exc:  # refused, throttled, deleted meanwhile: not verified
            return Destination(name, unknown=f"could not read {name}'s addresses ({_why(exc)})")
        networks = tuple(IPv4Network(c, strict=False) for c in cidrs if ":" not in c)
        if not networks:
            return Destination(name, unknown=f"{name} lists no IPv4 address")
        return Destination(name, networks)

    def interface(self, endpoints: list[dict[str, Any]], subnet: str) -> Destination:
        """An interface endpoint's traffic goes to its network interfaces' private addresses;
        those in the job's own subnet do not cross its network ACL."""
        ids = tuple(sorted(str(e["VpcEndpointId"]) for e in endpoints))
        name = f"interface endpoint {', '.join(ids)}"
        if ids not in self._interfaces:
            self._interfaces[ids] = self._read_interfaces(endpoints)
        addresses = self._interfaces[ids]
        if isinstance(addresses, str):
            return Destination(name, unknown=f"could not read {name}'s addresses ({addresses})")
        if not addresses:
            return Destination(name, unknown=f"{name} lists no network interface")
        outside = (a for where, a in addresses if where != subnet)
        return Destination(name, tuple(collapse_addresses(outside)))

    def _read_interfaces(
        self, endpoints: list[dict[str, Any]]
    ) -> list[tuple[str, IPv4Network]] | str:
        enis = sorted({str(i) for e in endpoints for i in e.get("NetworkInterfaceIds", [])})
        if not enis:
            return []
        try:
            found = self._probe.call("ec2", "DescribeNetworkInterfaces", NetworkInterfaceIds=enis)
        except Exception as exc:  # refused, or an interface deleted meanwhile
            return _why(exc)
        return [
            (str(eni.get("SubnetId")), IPv4Network(str(a["PrivateIpAddress"])))
            for eni in found.get("NetworkInterfaces", [])
            for a in eni.get("PrivateIpAddresses", [])
            if a.get("PrivateIpAddress")
        ]


def network_acl(probe: Probe, subnet: str, destination: Destination) -> Iterator[Check]:
    """The subnet's network ACL lets HTTPS out to ``destination`` and the answers back in.

    Network ACLs are stateless: the answers come back to an ephemeral port (1024-65535)
    and need an inbound rule of their own. Each direction is judged on its own rules in
    rule-number order, the first rule that matches a packet deciding it (IPv4 only).
    """
    acls = probe.call(
        "ec2",
        "DescribeNetworkAcls",
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}],
    )["NetworkAcls"]
    if not acls:
        return
    entries = sorted(acls[0].get("Entries", []), key=lambda e: e.get("RuleNumber", _DEFAULT_RULE))
    acl = acls[0]["NetworkAclId"]
    if destination.unknown is not None:
        yield Check(
            "network acl",
            subnet,
            "WARN",
            f"{destination.unknown}: whether network ACL {acl} lets HTTPS (443) out to "
            f"{destination.name} and ephemeral ports (1024-65535) back in is not verified",
        )
        return
    if not destination.networks:
        yield Check(
            "network acl",
            subnet,
            "PASS",
            f"{destination.name} is in the subnet itself: network ACL {acl} does not filter "
            "traffic within the subnet",
        )
        return
    where, of = destination.name, ""
    if not destination.anywhere_only:  # name the addresses credited, and those refused
        where, of = f"{where} ({_cidrs(destination.networks)})", f" of {destination.name}"
    for egress, ports, what in (
        (True, (443, 443), "HTTPS (443) out to"),
        (False, (1024, 65535), "ephemeral ports (1024-65535) in from"),
    ):
        rule, refused = _refusal(entries, egress, destination, ports)
        if not refused:
            yield Check("network acl", subnet, "PASS", f"network ACL {acl} allows {what} {where}")
        elif rule is not None:
            number = rule.get("RuleNumber")
            yield Check(
                "network acl",
                subnet,
                "FAIL",
                f"network ACL {acl} rule {number} (deny {rule.get('CidrBlock')}) denies {what} "
                f"{_listing(refused, ports)}{of} before any rule allows it: "
                f"jobs cannot reach S3. Fix: allow it in a rule numbered below {number}",
            )
        else:
            yield Check(
                "network acl",
                subnet,
                "FAIL",
                f"network ACL {acl} does not allow {what} {_listing(refused, ports)}{of}: "
                "no rule allows it, jobs cannot reach S3",
            )


_Box = tuple[IPv4Network, int, int]  # addresses, and a range of ports


def _refusal(
    entries: list[dict[str, Any]],
    egress: bool,
    destination: Destination,
    ports: tuple[int, int],
) -> tuple[dict[str, Any] | None, list[_Box]]:
    """The traffic to (or from) ``destination`` on ``ports`` that the ACL does not allow.

    Returns the first deny rule that matches some of it, with what it matches; else no
    rule, with what no rule allows (the "*" rule denies it); nothing refused is a pass.
    """
    pending: list[_Box] = [(n, *ports) for n in destination.networks]
    for entry in entries:
        cidr = entry.get("CidrBlock")  # an IPv6 rule has none: it matches no IPv4 traffic
        if bool(entry.get("Egress")) != egress or cidr is None:
            continue
        if entry.get("RuleNumber", _DEFAULT_RULE) >= _DEFAULT_RULE:
            continue
        if destination.anywhere_only and cidr != "0.0.0.0/0":
            continue
        protocol = str(entry.get("Protocol"))
        if protocol not in ("-1", "6"):
            continue
        span = entry.get("PortRange") if protocol == "6" else None
        low, high = (span.get("From", 0), span.get("To", 65535)) if span else (0, 65535)
        matched: list[_Box] = []
        rest: list[_Box] = []
        for box in pending:
            inside, outside = _split(box, IPv4Network(str(cidr), strict=False), low, high)
            matched += inside
            rest += outside
        if matched and entry.get("RuleAction") != "allow":
            return entry, matched
        pending = rest
        if not pending:
            break
    return None, pending


def _split(box: _Box, network: IPv4Network, low: int, high: int) -> tuple[list[_Box], list[_Box]]:
    """The part of ``box`` a rule for ``network`` and ports low-high matches, and the rest."""
    where, first, last = box
    low, high = max(first, low), min(last, high)
    if low > high or not where.overlaps(network):
        return [], [box]
    inside = where if where.subnet_of(network) else network  # CIDRs nest or are disjoint
    rest: list[_Box] = []
    if inside != where:
        rest += [(n, first, last) for n in where.address_exclude(inside)]
    if first < low:
        rest.append((inside, first, low - 1))
    if high < last:
        rest.append((inside, high + 1, last))
    return [(inside, low, high)], rest


def _listing(boxes: Iterable[_Box], ports: tuple[int, int]) -> str:
    """Addresses as few CIDRs, with the ports when they are not all of ``ports``."""
    by_ports: dict[tuple[int, int], list[IPv4Network]] = {}
    for network, low, high in boxes:
        by_ports.setdefault((low, high), []).append(network)
    parts = []
    for (low, high), networks in sorted(by_ports.items()):
        text = _cidrs(networks)
        if (low, high) != ports:
            text += f" on port {low}" if low == high else f" on ports {low}-{high}"
        parts.append(text)
    return "; ".join(parts)


def _cidrs(networks: Iterable[IPv4Network], most: int = 6) -> str:
    """Addresses as few CIDRs, the first ``most`` of them named."""
    cidrs = [str(n) for n in collapse_addresses(networks)]
    more = f" and {len(cidrs) - most} more" if len(cidrs) > most else ""
    return ", ".join(cidrs[:most]) + more


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, Skipped) else error_code(exc)
