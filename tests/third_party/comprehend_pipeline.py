"""A pipeline as a team writes it with plain boto3: its own role, keys and network.

Kept free of secure_comprehend on purpose: the drop-in test runs it, unchanged,
under ``sc.patch()`` in audit mode and requires that it still works.
"""

from __future__ import annotations

from typing import Any

import boto3

TEAM_ROLE = "arn:aws:iam::999988887777:role/team-comprehend"
TEAM_KEY = "arn:aws:kms:us-east-1:999988887777:key/aaaabbbb-cccc-dddd-eeee-ffff00001111"
TEAM_VPC = {"Subnets": ["subnet-0aaaaaaaaaaaaaaaa"], "SecurityGroupIds": ["sg-0aaaaaaaaaaaaaaaa"]}


def run() -> dict[str, Any]:
    comprehend = boto3.client("comprehend", region_name="us-east-1")
    classifier = comprehend.create_document_classifier(
        DocumentClassifierName="tickets",
        LanguageCode="en",
        DataAccessRoleArn=TEAM_ROLE,
        InputDataConfig={"S3Uri": "s3://team-data/train.csv"},
        VolumeKmsKeyId=TEAM_KEY,
        VpcConfig=TEAM_VPC,
    )["DocumentClassifierArn"]
    status = comprehend.describe_document_classifier(DocumentClassifierArn=classifier)[
        "DocumentClassifierProperties"
    ]["Status"]
    comprehend.start_document_classification_job(
        DocumentClassifierArn=classifier,
        DataAccessRoleArn=TEAM_ROLE,
        InputDataConfig={"S3Uri": "s3://team-data/in/"},
        OutputDataConfig={"S3Uri": "s3://team-data/out/", "KmsKeyId": TEAM_KEY},
    )
    comprehend.start_document_classification_job(
        DocumentClassifierArn=classifier,
        DataAccessRoleArn=TEAM_ROLE,
        InputDataConfig={"S3Uri": "s3://team-data/in2/"},
        OutputDataConfig={"S3Uri": "s3://team-data/out2/"},
    )
    paginator = comprehend.get_paginator("list_document_classification_jobs")
    jobs = sum(
        len(page["DocumentClassificationJobPropertiesList"]) for page in paginator.paginate()
    )
    sentiment = comprehend.detect_sentiment(Text="Great support, thanks!", LanguageCode="en")
    phrases = comprehend.detect_key_phrases(Text="The support team", LanguageCode="en")
    endpoint = comprehend.create_endpoint(
        EndpointName="tickets", ModelArn=classifier, DesiredInferenceUnits=1
    )["EndpointArn"]
    return {
        "classifier": status,
        "jobs": jobs,
        "sentiment": sentiment["Sentiment"],
        "key_phrases": len(phrases["KeyPhrases"]) and 1,
        "endpoint": endpoint.endswith("/tickets"),
    }
