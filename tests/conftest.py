"""Shared fixtures: fake credentials, a posture, moto, modified botocore models."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore
import pytest

import secure_comprehend as sc

pytest_plugins = ["fleet_support"]  # the fleet tests' fixtures: clock, region, ssm

REGION = "us-east-1"
ACCOUNT = "111122223333"
SUBNETS = ("subnet-0123456789abcdef0", "subnet-0123456789abcdef1")
GROUPS = ("sg-0123456789abcdef0",)
KEY_IDS = {
    "volume_key": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "output_key": "2234abcd-12ab-34cd-56ef-1234567890ab",
    "model_key": "3234abcd-12ab-34cd-56ef-1234567890ab",
    "data_lake_key": "4234abcd-12ab-34cd-56ef-1234567890ab",
}
KEYS = {kind: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}" for kind, kid in KEY_IDS.items()}
PARTNER_KEY = f"arn:aws:kms:{REGION}:444455556666:key/mrk-0123456789abcdef0123456789abcdef"
OUTPUT_ALIAS = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/comprehend-output"
ROLES = (f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess", f"arn:aws:iam::{ACCOUNT}:role/Other")
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/9999abcd-12ab-34cd-56ef-1234567890ab"
OTHER_SUBNET = "subnet-0fffffffffffffff0"
OTHER_GROUP = "sg-0fffffffffffffff0"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Intruder"
# an entities detection job with business parameters only, and the posture's VpcConfig
IO = {
    "InputDataConfig": {"S3Uri": "s3://in/docs/"},
    "OutputDataConfig": {"S3Uri": "s3://out/"},
    "LanguageCode": "en",
}
VPC = {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"
BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


def make_posture(mode: str = "enforce", **overrides: Any) -> sc.Posture:
    settings: dict[str, Any] = {
        "mode": mode,
        "vpc": {"subnets": list(SUBNETS), "security_group_ids": list(GROUPS)},
        "kms": {**KEYS, "also_allowed": [PARTNER_KEY, OUTPUT_ALIAS]},
        "iam": {"data_access_roles": list(ROLES)},
    }
    settings.update(overrides)
    return sc.Posture(**settings)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, no real AWS config, no posture from the machine."""
    import os

    for var in list(os.environ):
        if var.startswith(("SECURE_COMPREHEND_", "AWS_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def posture() -> sc.Posture:
    return make_posture()


@pytest.fixture
def moto() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def sc_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="secure_comprehend")
    return caplog


def comprehend_document() -> dict[str, Any]:
    path = BOTOCORE_DATA / "comprehend" / "2017-11-27" / "service-2.json.gz"
    with gzip.open(path, "rt") as f:
        return dict(json.load(f))


@pytest.fixture
def modified_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[dict[str, Any]], None]], boto3.Session]:
    """A boto3 session whose botocore loads a changed comprehend model from AWS_DATA_PATH."""

    def make(change: Callable[[dict[str, Any]], None]) -> boto3.Session:
        document = comprehend_document()
        change(document)
        folder = tmp_path / "models" / "comprehend" / "2017-11-27"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service-2.json").write_text(json.dumps(document))
        monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
        return boto3.Session(region_name=REGION)

    return make


class Recorder:
    """A transport on the generic before-send event, registered last, as moto's is.

    It answers every request in-process and keeps the bodies that left.
    """

    def __init__(self, response: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
        self.bodies: list[bytes] = []
        self.response = response
        self.headers = headers or {}

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        body = request.body
        self.bodies.append(body if isinstance(body, bytes) else str(body).encode())
        raw = _Raw(self.response)
        return AWSResponse(request.url, 200, {"x-amzn-requestid": "r", **self.headers}, raw)

    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def recorded_client(
    posture: sc.Posture | None, recorder: Recorder, session: boto3.Session | None = None
) -> Any:
    """A client (protected unless posture is None) whose requests go to ``recorder``."""
    session = session or boto3.Session(region_name=REGION)
    client = session.client("comprehend", region_name=REGION)
    if posture is not None:
        sc.protect(client, posture)
    client.meta.events.register("before-send", recorder)
    return client


class AlwaysEqual(bytes):
    """A body that claims to equal anything (a memo that compared bodies trusted it)."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = bytes.__hash__


class WireServer:
    """An HTTP server on 127.0.0.1 that keeps every request that reached it.

    It answers 200 with an empty structure in the protocol the request used: what it
    kept is what left the process, whatever any handler did on the way.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.received: list[tuple[str, dict[str, str], bytes]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.received.append((self.path, dict(self.headers.items()), body))
                cbor = self.headers.get("smithy-protocol") == "rpc-v2-cbor"
                answer = b"\xa0" if cbor else b"{}"
                self.send_response(200)
                self.send_header("x-amzn-requestid", "r")
                if cbor:
                    self.send_header("smithy-protocol", "rpc-v2-cbor")
                    self.send_header("Content-Type", "application/cbor")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def bodies(self) -> list[bytes]:
        return [body for _, _, body in self.received]


@pytest.fixture(scope="session")
def _one_wire_server() -> Iterator[WireServer]:
    server = WireServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def wire_server(_one_wire_server: WireServer) -> WireServer:
    """The session's WireServer, with nothing received yet."""
    _one_wire_server.received.clear()
    return _one_wire_server


def cbor_only(document: dict[str, Any]) -> None:
    """A comprehend model that botocore serializes as RPC v2 CBOR."""
    document["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    document["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
