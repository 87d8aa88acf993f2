"""``secure-comprehend init``: a posture file proposed from a read-only look at the account.

The discovery is ``account.discover``; this module writes what it found as the TOML the
library reads, every value with a comment saying why, every choice it could not make a
``"TODO: ..."`` value that the posture's validators refuse until it is edited.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secure_comprehend.account.discover import AREAS, Discovery, Setting, discover
from secure_comprehend.cli.commands import (
    EXIT_NOT_COMPLIANT,
    EXIT_OK,
    CannotRun,
    _progress,
    _region,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

DEFAULT_OUT = "secure_comprehend.toml"  # the file the posture lookup reads first
TODO = "TODO: "
_VPC_ID = re.compile(r"vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})", re.ASCII)


def register(command: Callable[..., Any], posture_options: Callable[..., None]) -> None:
    """Add ``init`` with ``command(...)``, the CLI's subcommand helper. It reads no
    posture, so it takes ``--region`` but not ``posture_options``' ``--config``."""
    del posture_options
    init = command(
        "init",
        "propose a posture file from a read-only look at the account",
        "Describe/Get/List calls only: one VPC's private subnets that reach S3 (gateway "
        "endpoint, interface endpoint or NAT), its security groups that let HTTPS out, the "
        "customer managed KMS keys whose key policy lets Comprehend use them, the roles "
        "Comprehend may assume and the buckets they reach. Every value has a comment saying "
        "why; a choice it cannot make is a 'TODO: ...' value that the posture refuses until "
        "you edit it. A call you may not make is SKIPPED and the rest goes on. It never "
        "overwrites a file.",
        "AWS_PROFILE=ml secure-comprehend init --region us-east-1 --out posture.toml",
        "written, every value proposed",
        "written, with TODO values to resolve or discovery calls SKIPPED",
        json=None,
        cannot="; or --out exists (never overwritten)",
    )
    init.add_argument("--region", help="the region to look at (default: as boto3)")
    init.add_argument(
        "--vpc",
        type=_vpc_id,
        metavar="VPC_ID",
        help="the VPC whose subnets and security groups to propose (default: the one with "
        "the most private subnets that reach S3)",
    )
    init.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="FILE",
        help=f"the file to write, which must not exist ('-' for stdout; default: {DEFAULT_OUT}, "
        "the file the posture lookup reads in the current directory)",
    )
    init.set_defaults(run=run)


def _vpc_id(text: str) -> str:
    import argparse

    if not _VPC_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"VPC_ID must be vpc- and 8 or 17 hex digits, not {text!r}"
        )
    return text


def run(args: argparse.Namespace) -> int:
    """Discover, write the file (or stdout), and say on stderr what is left to do."""
    import boto3

    from secure_comprehend.posture.regions import check_region

    region = check_region(_region(args), "--region")
    path = _target(args.out)  # before any call: an existing file is refused at once
    session = boto3.Session(region_name=region)
    found = discover(session, region, args.vpc, progress=_progress(args, "discovering"))
    for line in found.skipped:
        print(f"SKIPPED {line}", file=sys.stderr)
    if found.unread >= set(AREAS):
        raise CannotRun(
            "no VPC, key or role could be listed: see the SKIPPED lines for the permissions "
            "(nothing was written)"
        )
    text = render(found)
    if path is None:
        sys.stdout.write(text)
        where = "the posture above"
    else:
        try:
            with path.open("x", encoding="utf-8") as file:  # "x": never replaces a file
                file.write(text)
        except FileExistsError as exc:
            raise _exists(args.out) from exc
        where = str(path)
    proposed = sum(len(s.values) for section in found.sections for s in section.settings)
    skipped = f", {len(found.skipped)} call(s) SKIPPED" if found.skipped else ""
    config = "FILE" if path is None else str(path)
    print(
        f"wrote {where}: {proposed} value(s) proposed, {found.todos} TODO(s) to resolve"
        f"{skipped}. Review each value's comment, then run: secure-comprehend show --config "
        f"{config} && secure-comprehend doctor --config {config} --region {region}",
        file=sys.stderr,
    )
    return EXIT_OK if not found.todos and not found.skipped else EXIT_NOT_COMPLIANT


def _target(raw: str) -> Path | None:
    """--out as a path that does not exist yet; None for stdout."""
    if raw == "-":
        return None
    if not raw.strip():
        raise CannotRun("--out is empty: name a file (secure_comprehend.toml) or - for stdout")
    if not raw.isprintable():  # a pasted newline would name a file no one can type
        raise CannotRun(f"--out {raw!r}: the name holds a control character")
    path = Path(raw)
    if path.is_dir():
        raise CannotRun(f"--out {raw}: is a directory: name a file inside it")
    if path.exists() or path.is_symlink():
        raise _exists(raw)
    if path.suffix.lower() != ".toml":  # a posture file is read by its name (*.json: JSON)
        raise CannotRun(f"--out {raw}: init writes TOML: name the file *.toml (or - for stdout)")
    if not path.parent.is_dir():
        raise CannotRun(f"--out {raw}: the directory {path.parent} does not exist")
    return path


def _exists(raw: str) -> CannotRun:
    return CannotRun(
        f"--out {raw}: the file exists, and init never overwrites one: move it away, or pass "
        "another --out (- for stdout)"
    )


# The file: TOML the posture reads, comments for the reader.


def render(found: Discovery) -> str:
    """The discovery as a commented posture file."""
    from secure_comprehend import __version__

    lines = [
        "# secure_comprehend posture proposed by 'secure-comprehend init' "
        f"({__version__}) for account {found.account or '(unknown)'} in {found.region}.",
        "#",
        "# init proposes, it never decides: review every value and the comment that says why",
        '# it was chosen. A "TODO: ..." value is a choice init could not make: the posture is',
        "# invalid until you replace it (or remove its line). secure-comprehend show --config",
        "# FILE says which remain; secure-comprehend doctor --config FILE checks the account.",
        f"# Every value is of {found.region}: a client in another region needs its own",
        "# [regions.REGION.vpc] and [regions.REGION.kms] sections.",
    ]
    if found.account_skipped:
        lines.append(f"# SKIPPED the account: {_comment(found.account_skipped)}")
    lines += [
        "",
        "# why: observe changes and refuses nothing, it logs what the posture would do; then "
        "audit, then enforce (README: Rolling out)",
        'mode = "observe"',
    ]
    for section in found.sections:
        lines += ["", f"[{section.name}]"]
        lines += [f"# SKIPPED {_comment(line)}" for line in section.skipped]
        lines += [f"# {_comment(note)}" for note in section.notes]
        for setting in section.settings:
            lines += _setting(setting)
    return "\n".join(lines) + "\n"


def _setting(setting: Setting) -> list[str]:
    lines = [f"# {_comment(note)}" for note in setting.notes]
    todo = _string(TODO + setting.todo) if setting.todo is not None else None
    if not setting.many:
        if todo is not None:
            return [*lines, f"{setting.key} = {todo}"]
        value = setting.values[0]
        return [*lines, f"# why: {_comment(value.why)}", f"{setting.key} = {_string(value.text)}"]
    lines.append(f"{setting.key} = [")
    if todo is not None:
        lines.append(f"    {todo},")
    lines += [f"    {_string(v.text)},  # {_comment(v.why)}" for v in setting.values]
    return [*lines, "]"]


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", escaped) + '"'


def _comment(text: str) -> str:
    """Text from the account (names, descriptions) safe on one comment line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m[0])[1:-1], text)
