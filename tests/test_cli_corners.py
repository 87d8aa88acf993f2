"""The secure-comprehend command's corners (issue 21, items 10 and 11): --debug, options
in the wrong place, --since, --out DIR/, the demo without moto, a JSON --config, the shape
of each policy kind, and what the help and the docs say."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_CONFIG

from secure_comprehend.cli import _parser, main
from secure_comprehend.posture.documents import parse_toml

TOP = Path(__file__).resolve().parent.parent
CONFIG = ["--config", str(EXAMPLE_CONFIG)]
READER = ["--config", "ssm:/org/comprehend/posture", "--region", "us-east-1"]


# --debug: a traceback, and still exit 2; accepted before the command too


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "--config", "missing.toml", "--debug"],
        ["--debug", "show", "--config", "missing.toml"],
    ],
    ids=["after", "before"],
)
def test_debug_shows_the_traceback_and_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.rstrip().splitlines()[-1] == (
        "secure-comprehend: error: posture file 'missing.toml' (from --config) does not exist"
    )


def test_debug_under_json_still_prints_the_error_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["show", "--config", "missing.toml", "--json", "--debug"]) == 2
    assert "does not exist" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_an_option_in_the_wrong_place_names_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--json", "show", *CONFIG])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: secure-comprehend show" in err
    assert "--json goes after the command: secure-comprehend show --json" in err
    with pytest.raises(SystemExit):
        main(["demo", "--json"])
    err = capsys.readouterr().err
    assert "usage: secure-comprehend demo" in err
    assert "secure-comprehend demo: error: unrecognized arguments: --json" in err


# scan --since: a whole number of days


@pytest.mark.parametrize("days", ["-1", "0", "1_0", "+3", "7.5", "x", "36501", "\u0661"])
def test_scan_since_takes_a_whole_number_of_days(
    capsys: pytest.CaptureFixture[str], days: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["scan", "--since", days])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --since: DAYS must be a whole number from 1 to 36500, not {days!r}" in err


def test_scan_since_accepts_its_range() -> None:
    assert _parser().parse_args(["scan", "--since", "1"]).since == 1
    assert _parser().parse_args(["scan", "--since", "36500"]).since == 36500
    assert _parser().parse_args(["scan"]).since == 30


# policy --out: a file, FILE-1..., or a directory; never a guess


@pytest.mark.parametrize("existing", [True, False], ids=["existing", "created"])
def test_policy_out_a_directory_writes_inside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: bool
) -> None:
    outdir = tmp_path / "outdir"
    if existing:
        outdir.mkdir()
    target = str(outdir) if existing else f"{outdir}/"
    assert main(["policy", *CONFIG, "--out", target]) == 0
    assert sorted(p.name for p in outdir.iterdir()) == ["identity-1.json", "identity-2.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outdir"]  # no outdir-1 beside it
    err = capsys.readouterr().err
    assert f"{outdir / 'identity-1.json'}, {outdir / 'identity-2.json'}" in err
    for kind in ("scp", "data-access-role", "key-policy"):
        assert main(["policy", *CONFIG, "--kind", kind, "--out", f"{outdir}/"]) == 0
    assert main(["policy", *READER, "--kind", "posture-reader", "--out", f"{outdir}/"]) == 0
    assert sorted(p.name for p in outdir.iterdir()) == [
        "data-access-role.json",
        "identity-1.json",
        "identity-2.json",
        "key-policy.json",
        "posture-reader.json",
        "scp-1.json",
        "scp-2.json",
    ]
    roles = json.loads((outdir / "data-access-role.json").read_text())
    assert all(set(r) == {"TrustPolicy", "PermissionsPolicy"} for r in roles.values())


def test_policy_out_one_document_in_a_directory(tmp_path: Path) -> None:
    small = tmp_path / "small.toml"
    small.write_text('[iam]\ndata_access_roles = ["arn:aws:iam::111122223333:role/R"]\n')
    assert main(["policy", "--config", str(small), "--out", f"{tmp_path}/deny/"]) == 0
    assert [p.name for p in (tmp_path / "deny").iterdir()] == ["identity.json"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("deny", "--out {t}: neither a directory nor a file name with an extension"),
        ("afile.json/", "--out {t}: {p} is a file, not a directory"),
        ("missing/deeper/", "--out {t}: cannot create the directory {p}: No such file"),
        ("", "--out is empty: name a file (policy.json) or a directory (policies/)"),
    ],
    ids=["no-extension", "file-with-slash", "no-parent", "empty"],
)
def test_policy_out_an_ambiguous_or_impossible_target_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, message: str
) -> None:
    (tmp_path / "afile.json").write_text("keep")
    before = sorted(p.name for p in tmp_path.iterdir())
    full = str(tmp_path / target) + ("/" if target.endswith("/") else "") if target else ""
    assert main(["policy", *CONFIG, "--out", full]) == 2
    err = capsys.readouterr().err
    expected = message.format(t=full, p=Path(full))
    assert err.startswith("secure-comprehend: error: ") and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "afile.json").read_text() == "keep"


def test_policy_out_refuses_before_reading_the_posture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "--config", "missing.toml", "--out", str(tmp_path / "deny")]) == 2
    assert "--out" in capsys.readouterr().err


# the demo without moto


def test_demo_without_moto_is_one_error_line_that_works_unpublished(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # import moto now raises ImportError
    assert main(["demo"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("secure-comprehend: error: the demo needs moto")
    assert "pip install 'moto[comprehend]>=5.1'" in lines[0]
    assert "secure-comprehend[demo]" not in lines[0]  # not on PyPI: that would not install


def test_the_suggested_moto_is_the_demo_extra() -> None:
    from secure_comprehend.cli import demo

    pyproject = parse_toml((TOP / "pyproject.toml").read_text(), "pyproject.toml")
    assert pyproject["project"]["optional-dependencies"]["demo"] == [demo.MOTO]


# --config posture.json: read as JSON, by its extension


def write_json_posture(tmp_path: Path, values: Any = None) -> Path:
    path = tmp_path / "posture.json"
    document = parse_toml(EXAMPLE_CONFIG.read_text(), "example") if values is None else values
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_a_json_posture_file_is_read_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json_posture(tmp_path)
    assert main(["show", "--config", str(path), "--region", "eu-west-1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vpc"]["subnets"] == {
        "value": ["subnet-0fedcba9876543210"],
        "source": f"file {path}",
        "section": "regions.eu-west-1.vpc",
    }
    assert main(["policy", "--config", str(path), "--kind", "scp"]) == 0
    from_json = capsys.readouterr().out
    assert main(["policy", *CONFIG, "--kind", "scp"]) == 0
    assert from_json == capsys.readouterr().out


def test_the_demo_reads_a_json_posture_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_json_posture(tmp_path)
    assert main(["demo", "--config", str(path)]) == 0
    assert f"posture: {path} (mode: enforce, from file {path})" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('mode = "audit"\n', "must hold a JSON object"),
        ('{"mode": "audit",}', "is not valid JSON"),
        ('{"mode": "audit", "mode": "enforce"}', "duplicate keys ['mode']"),
        ("", "is empty: it configures nothing"),
        ("{}", "is empty: it configures nothing"),
        ("[]", "must hold a JSON object"),
        ('\ufeff{"mode": "audit"}', "byte-order mark"),
        ('{"mode": "audit", "vpcc": {}}', "vpcc"),
    ],
)
def test_a_json_posture_file_is_read_strictly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = write_json_posture(tmp_path, text)
    assert main(["show", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("secure-comprehend: error: ") and message in err, err
    assert "not valid TOML" not in err
    assert str(path) in err


def test_a_missing_json_posture_file_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "--config", str(tmp_path / "nope.json")]) == 2
    assert "nope.json' (from --config) does not exist" in capsys.readouterr().err


# policy: one shape per kind, the same under --json


def policy_output(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    assert capsys.readouterr().out == printed  # --json changes nothing: it is JSON already
    return json.loads(printed)


def test_each_policy_kind_prints_its_documented_shape(
    capsys: pytest.CaptureFixture[str],
) -> None:
    identity = policy_output(capsys, ["policy", *CONFIG])
    scp = policy_output(capsys, ["policy", *CONFIG, "--kind", "scp"])
    for documents in (identity, scp):
        assert isinstance(documents, list)
        assert all(set(d) == {"Version", "Statement"} for d in documents)
    roles = policy_output(capsys, ["policy", *CONFIG, "--kind", "data-access-role"])
    assert all(a.startswith("arn:aws:iam::") for a in roles)
    assert all(set(r) == {"TrustPolicy", "PermissionsPolicy"} for r in roles.values())
    keys = policy_output(capsys, ["policy", *CONFIG, "--kind", "key-policy"])
    assert all(a.startswith("arn:aws:kms:") for a in keys)
    assert all(isinstance(s, list) and s[0]["Effect"] == "Allow" for s in keys.values())
    reader = policy_output(capsys, ["policy", *READER, "--kind", "posture-reader"])
    assert set(reader) == {"Version", "Statement"}


def test_docs_name_the_shape_of_each_policy_kind() -> None:
    text = (TOP / "docs" / "cli.md").read_text()
    section = text.split("### What `policy` prints", 1)[1].split("\n#", 1)[0]
    for kind, shape in [
        ("identity", "array of policy documents"),
        ("scp", "array of policy documents"),
        ("data-access-role", "object keyed by role ARN"),
        ("key-policy", "object keyed by key ARN"),
        ("posture-reader", "one policy document"),
    ]:
        assert re.search(rf"`{kind}`[^\n]*{shape}", section), kind


def test_json_is_an_option_of_policy_but_not_of_the_demo() -> None:
    assert _parser().parse_args(["policy", "--json"]).json is True
    with pytest.raises(SystemExit):
        _parser().parse_args(["demo", "--json"])


# what the help and the docs say


def test_scan_help_says_exit_1_covers_areas_not_listed() -> None:
    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "==SUPPRESS==" and a.choices)
    text = " ".join(commands.choices["scan"].format_help().split())
    assert "1 some resource is not compliant, or some area could not be listed (SKIPPED)" in text
    assert "or no area could be listed" in text


def test_the_synopses_name_every_policy_kind() -> None:
    kinds = "identity|scp|data-access-role|key-policy|posture-reader"
    for page in ("README.md", "docs/cli.md"):
        text = (TOP / page).read_text()
        lines = text.splitlines()
        at = next(i for i, x in enumerate(lines) if x.startswith("secure-comprehend policy ["))
        synopsis = lines[at] + (lines[at + 1] if lines[at + 1].startswith(" ") else "")
        assert f"[--kind {kinds}]" in synopsis, page
        assert "[--out FILE|DIR/]" in synopsis or "[--out F|DIR/]" in synopsis, page
        assert "[--json]" in synopsis, page
