"""``policy --format cloudformation|terraform``: every document of the posture at once, as one
CloudFormation template or one Terraform ``.tf.json`` module (``policy.iac``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from secure_comprehend.cli.commands import EXIT_OK, CannotRun, _out_target, load, run_policy

if TYPE_CHECKING:
    import argparse

# --out DIR/ writes DIR/NAME.json; Terraform reads only *.tf and *.tf.json files
OUT_NAMES = {"cloudformation": "secure-comprehend.template", "terraform": "secure-comprehend.tf"}
WHAT = {"cloudformation": "the CloudFormation template", "terraform": "the Terraform module"}


def run(args: argparse.Namespace) -> int:
    """policy: --format json (the default) is each kind's documents, else the whole posture
    as one template or module."""
    return run_policy(args) if args.format == "json" else run_infrastructure(args)


def run_infrastructure(args: argparse.Namespace) -> int:
    """The template or module on stdout, or in the file --out names; its notes on stderr."""
    from secure_comprehend.policy.iac import infrastructure

    format = args.format
    if args.kind is not None:
        raise CannotRun(
            f"--kind {args.kind} does not go with --format {format}: {WHAT[format]} holds "
            "every document at once (identity, scp, data-access-role, key-policy); drop --kind, "
            "or use --format json for one kind (posture-reader is JSON only)"
        )
    out = _out_target(args.out, OUT_NAMES[format]) if args.out is not None else None
    if out is not None and format == "terraform" and not out.base.name.endswith(".tf.json"):
        raise CannotRun(
            f"--out {args.out}: Terraform reads only files named *.tf.json: name it "
            f"{out.base.with_name(out.base.with_suffix('').name + '.tf.json')}"
        )
    posture, _ = load(args)
    result = infrastructure(posture, format, region=args.region)
    if out is None:
        sys.stdout.write(result.text)
    else:
        paths = out.write([result.text])
        print(f"wrote {WHAT[format]}: {', '.join(map(str, paths))}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK
