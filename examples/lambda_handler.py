"""An AWS Lambda function that starts an entities detection job for each uploaded object.

The protected client is built once per container, at module level: the posture is read
then (from SECURE_COMPREHEND_* variables or the file named by SECURE_COMPREHEND_CONFIG)
and reused by every invocation. The handler passes business parameters only; the VPC,
KMS keys and data-access role come from the posture.

Environment, for example:
    SECURE_COMPREHEND_VPC__SUBNETS='["subnet-0123456789abcdef0"]'
    SECURE_COMPREHEND_VPC__SECURITY_GROUP_IDS='["sg-0123456789abcdef0"]'
    SECURE_COMPREHEND_KMS__VOLUME_KEY=arn:aws:kms:us-east-1:111122223333:key/...
    SECURE_COMPREHEND_KMS__OUTPUT_KEY=arn:aws:kms:us-east-1:111122223333:key/...
    SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES='["arn:aws:iam::111122223333:role/ComprehendDataAccess"]'
    OUTPUT_PREFIX=s3://corp-ml-results/entities/
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote_plus

import secure_comprehend as sc

comprehend = sc.client()  # once per container; the region is the function's (AWS_DEFAULT_REGION)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Start one entities detection job per object an S3 ObjectCreated event reports."""
    jobs = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        started = comprehend.start_entities_detection_job(
            JobName=f"entities-{key.rsplit('/', 1)[-1]}"[:256],
            LanguageCode="en",
            InputDataConfig={"S3Uri": f"s3://{bucket}/{key}", "InputFormat": "ONE_DOC_PER_FILE"},
            OutputDataConfig={"S3Uri": os.environ["OUTPUT_PREFIX"]},
        )
        jobs.append(started["JobId"])
    return {"jobs": jobs}
