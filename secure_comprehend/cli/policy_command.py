"""``secure-comprehend policy``: the posture's IAM documents, the data-access roles' and
key policies' documents, and the fleet posture's reader policy, to stdout or ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secure_comprehend.cli.commands import EXIT_OK, CannotRun, load


def run_policy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from secure_comprehend.policy.iam import build_policy
    from secure_comprehend.policy.text import SIZE_LIMITS, compact

    if args.kind == "posture-reader":
        return _posture_reader(args)
    posture, _ = load(args)
    if args.kind in ("data-access-role", "key-policy"):
        return _provisioning(args, posture)
    result = build_policy(posture, kind=args.kind, region=args.region)
    documents = result.documents
    limit = SIZE_LIMITS[args.kind]
    why = (
        "it fits"
        if len(documents) == 1
        else f"the statements exceed the {limit:,}-character {args.kind} limit together"
    )
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise CannotRun(f"--out {out} is a directory: name a file, e.g. {out / 'policy.json'}")
        paths = (
            [out]
            if len(documents) == 1
            else [
                out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, len(documents) + 1)
            ]
        )
        for path, document in zip(paths, documents, strict=True):
            path.write_text(compact(document))  # exactly the text whose size was checked
        written = ", ".join(str(p) for p in paths)
        print(f"wrote {len(documents)} {args.kind} document(s) ({why}): {written}", file=sys.stderr)
    else:
        print("[" + ",".join(compact(d) for d in documents) + "]")
        print(f"{len(documents)} {args.kind} document(s): {why}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def _posture_reader(args: argparse.Namespace) -> int:
    """policy --kind posture-reader: read access to the fleet source, and nothing else."""
    import os

    from secure_comprehend.policy.reader import reader_policy
    from secure_comprehend.policy.text import compact
    from secure_comprehend.posture.env import CONFIG_VAR, variable
    from secure_comprehend.posture.fleet.sources import FleetSource
    from secure_comprehend.posture.regions import check_region

    named, origin = args.config, "--config"
    if named is None and (var := variable(CONFIG_VAR)) is not None:
        named, origin = os.environ[var], f"environment variable {var}"
    source = FleetSource.parse(named, origin) if named else None
    if source is None:
        raise CannotRun(
            "--kind posture-reader needs a fleet source: --config ssm:/path/name, "
            "secretsmanager:NAME, appconfig:APP/ENV/PROFILE or s3://BUCKET/KEY"
        )
    region = check_region(args.region, "--region") if args.region else None
    document, notes = reader_policy(source, region)
    return _write(args, compact(document), f"the posture-reader policy for {source}", notes)


def _provisioning(args: argparse.Namespace, posture: Any) -> int:
    """policy --kind data-access-role / key-policy: documents keyed by role or key ARN."""

    from secure_comprehend.policy.provisioning import data_access_role, key_policy
    from secure_comprehend.policy.text import compact

    build = data_access_role if args.kind == "data-access-role" else key_policy
    documents, notes = build(posture, args.region)
    what = f"{args.kind} documents for {len(documents)} ARN(s)"
    return _write(args, compact(documents), what, notes)


def _write(args: argparse.Namespace, text: str, what: str, notes: list[str]) -> int:
    """One JSON text to --out FILE (saying so on stderr) or stdout; then the notes."""
    from pathlib import Path

    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise CannotRun(f"--out {out} is a directory: name a file, e.g. {out / 'policy.json'}")
        out.write_text(text)
        print(f"wrote {what}: {out}", file=sys.stderr)
    else:
        print(text)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK
