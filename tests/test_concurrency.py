"""Many threads sharing one protected client each get exactly their own request."""

from __future__ import annotations

import threading
from typing import Any

from conftest import (
    GROUPS,
    KEYS,
    OTHER_SUBNET,
    ROLES,
    SUBNETS,
    Recorder,
    make_posture,
    recorded_client,
)

import secure_comprehend as sc

THREADS, CALLS = 16, 200


def test_sixteen_threads_share_one_client() -> None:
    recorder = Recorder(response=b'{"JobId": "j"}')
    client = recorded_client(make_posture(), recorder)
    refused: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(thread: int) -> None:
        start.wait()
        for call in range(CALLS):
            params: dict[str, Any] = {
                "JobName": f"t{thread}-c{call}",
                "InputDataConfig": {"S3Uri": f"s3://in/{thread}/{call}"},
                "OutputDataConfig": {"S3Uri": f"s3://out/{thread}/{call}"},
                "LanguageCode": "en",
            }
            if thread % 4 == 1:
                params["VpcConfig"] = {"Subnets": [SUBNETS[call % 2]]}  # partial: completed
            if thread % 4 == 2 and call % 10 == 0:
                params["VpcConfig"] = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
            try:
                client.start_entities_detection_job(**params)
            except sc.PostureViolation:
                refused.append(params["JobName"])
            except BaseException as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    expected_refused = {
        f"t{t}-c{c}" for t in range(THREADS) if t % 4 == 2 for c in range(0, CALLS, 10)
    }
    assert set(refused) == expected_refused
    sent = recorder.sent()
    assert len(sent) == THREADS * CALLS - len(expected_refused)
    for body in sent:
        thread, call = (int(part[1:]) for part in body["JobName"].split("-"))
        assert body["InputDataConfig"]["S3Uri"] == f"s3://in/{thread}/{call}"
        assert body["OutputDataConfig"] == {
            "S3Uri": f"s3://out/{thread}/{call}",
            "KmsKeyId": KEYS["output_key"],
        }
        assert body["DataAccessRoleArn"] == ROLES[0]
        subnets = [SUBNETS[call % 2]] if thread % 4 == 1 else list(SUBNETS)
        assert body["VpcConfig"] == {"Subnets": subnets, "SecurityGroupIds": list(GROUPS)}
