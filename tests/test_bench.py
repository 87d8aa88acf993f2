"""The benchmark keeps working: one run with tiny counts. It never asserts a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def test_benchmark_runs_with_tiny_counts(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECURE_COMPREHEND_")}
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = out.read_text()
    for figure in (
        "cold start, posture from environment: import, client, one covered call",
        "cold start, posture from a TOML file: import, client, one covered call",
        "cold start, posture from environment: peak RSS",
        "covered call, in-process",
        "uncovered call (DetectSentiment), in-process",
        "covered call, via local HTTP",
        "uncovered call (DetectSentiment), via local HTTP",
        "16 threads, one client",
        "refused call",
        "Where the covered call's time goes",
    ):
        assert figure in report
    assert "--quick" in report
