"""The request → IAM action/resource table of localcloud."""

from __future__ import annotations

import pytest

from localcloud.authz.checks import Check, Target
from localcloud.authz.s3 import UnsupportedRequest, s3_checks
from localcloud.authz.sagemaker import runtime_checks, sagemaker_checks
from localcloud.authz.services import events_checks, kms_checks, sqs_checks, sts_checks

STAGING = Target(account="333333333333", region="us-east-1")
HUB_PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/breast-cancer/3"


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/", {}, Check("s3:ListAllMyBuckets", "*")),
        ("PUT", "/b-1", {}, Check("s3:CreateBucket", "arn:aws:s3:::b-1")),
        (
            "GET",
            "/b-1",
            {"prefix": "models/"},
            Check("s3:ListBucket", "arn:aws:s3:::b-1", {"s3:prefix": "models/"}),
        ),
        ("PUT", "/b-1", {"policy": ""}, Check("s3:PutBucketPolicy", "arn:aws:s3:::b-1")),
        (
            "GET",
            "/b-1/models/a%20b.tar.gz",
            {},
            Check("s3:GetObject", "arn:aws:s3:::b-1/models/a b.tar.gz"),
        ),
        ("HEAD", "/b-1/k", {}, Check("s3:GetObject", "arn:aws:s3:::b-1/k")),
        ("PUT", "/b-1/ledger/1.json", {}, Check("s3:PutObject", "arn:aws:s3:::b-1/ledger/1.json")),
        ("DELETE", "/b-1/k", {}, Check("s3:DeleteObject", "arn:aws:s3:::b-1/k")),
    ],
)
def test_s3_operations(method: str, path: str, query: dict[str, str], expected: Check) -> None:
    assert s3_checks(method, path, query, {}) == [expected]


def test_s3_delete_objects_is_checked_per_object_of_its_body() -> None:
    body = (
        b"<Delete><Object><Key>models/a</Key></Object>"
        b"<Object><Key>ledger/1.json</Key><VersionId>v1</VersionId></Object></Delete>"
    )
    assert s3_checks("POST", "/b-1", {"delete": ""}, {}, body=body) == [
        Check("s3:DeleteObject", "arn:aws:s3:::b-1/models/a"),
        Check("s3:DeleteObjectVersion", "arn:aws:s3:::b-1/ledger/1.json"),
    ]
    with pytest.raises(UnsupportedRequest) as unreadable:
        s3_checks("POST", "/b-1", {"delete": ""}, {}, body=b"<Delete>")
    assert unreadable.value.code == "MalformedXML"


def test_s3_prefix_condition_key_is_decoded() -> None:
    # boto3 sends ListObjectsV2's prefix percent-encoded; policies compare the decoded value.
    checks = s3_checks("GET", "/b-1", {"list-type": "2", "prefix": "models%2Fbench%2F"}, {})
    assert checks == [Check("s3:ListBucket", "arn:aws:s3:::b-1", {"s3:prefix": "models/bench/"})]


def test_s3_sse_kms_reads_and_writes_need_the_key() -> None:
    key = "arn:aws:kms:us-east-1:111111111111:key/k1"
    read = s3_checks("GET", "/hub/models/m.tar.gz", {}, {}, lambda bucket, obj: key)
    assert read[1] == Check(
        "kms:Decrypt", key, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}, implied=True
    )
    write = s3_checks("PUT", "/hub/models/m.tar.gz", {}, {}, lambda bucket, obj: key)
    assert write[1].action == "kms:GenerateDataKey"
    copy = s3_checks("PUT", "/hub/models/m", {}, {"x-amz-copy-source": "/dev/out/model.tar.gz"})
    assert Check("s3:GetObject", "arn:aws:s3:::dev/out/model.tar.gz") in copy


def test_create_model_from_a_hub_package_checks_the_hub_arn_and_passrole() -> None:
    params = {
        "ModelName": "Breast-Cancer-3",
        "PrimaryContainer": {"ModelPackageName": HUB_PACKAGE},
        "ExecutionRoleArn": "arn:aws:iam::333333333333:role/hubspoke-sagemaker-execution",
    }
    checks = sagemaker_checks("CreateModel", params, STAGING)
    assert checks[0] == Check(
        "sagemaker:CreateModel", "arn:aws:sagemaker:us-east-1:333333333333:model/breast-cancer-3"
    )
    assert (
        Check(
            "iam:PassRole",
            "arn:aws:iam::333333333333:role/hubspoke-sagemaker-execution",
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
            implied=True,
        )
        in checks
    )
    assert Check("sagemaker:DescribeModelPackage", HUB_PACKAGE, implied=True) in checks


def test_approval_carries_the_status_condition_key() -> None:
    checks = sagemaker_checks(
        "UpdateModelPackage",
        {"ModelPackageArn": HUB_PACKAGE, "ModelApprovalStatus": "Approved"},
        STAGING,
    )
    assert checks == [
        Check(
            "sagemaker:UpdateModelPackage",
            HUB_PACKAGE,
            {"sagemaker:ModelApprovalStatus": "Approved"},
        )
    ]


def test_delete_model_package_is_checked_against_the_package() -> None:
    # DeleteModelPackage carries the package in ModelPackageName (not ModelPackageArn).
    checks = sagemaker_checks("DeleteModelPackage", {"ModelPackageName": HUB_PACKAGE}, STAGING)
    assert checks == [Check("sagemaker:DeleteModelPackage", HUB_PACKAGE)]


def test_jobs_and_endpoint_configs_expose_their_kms_keys() -> None:
    job = sagemaker_checks(
        "CreateTrainingJob",
        {
            "TrainingJobName": "t1",
            "ResourceConfig": {"VolumeKmsKeyId": "k1"},
            "OutputDataConfig": {},
        },
        STAGING,
    )[0]
    assert job.context == {"sagemaker:VolumeKmsKey": "k1"}
    config = sagemaker_checks("CreateEndpointConfig", {"EndpointConfigName": "c"}, STAGING)[0]
    assert config.context == {}


def test_register_into_the_hub_group_by_arn() -> None:
    group = "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/breast-cancer"
    check = sagemaker_checks("CreateModelPackage", {"ModelPackageGroupName": group}, STAGING)[0]
    assert (
        check.resource == "arn:aws:sagemaker:us-east-1:111111111111:model-package/breast-cancer/*"
    )


def test_runtime_and_other_services() -> None:
    assert runtime_checks("/endpoints/Breast-Cancer-Prod/invocations", STAGING) == [
        Check(
            "sagemaker:InvokeEndpoint",
            "arn:aws:sagemaker:us-east-1:333333333333:endpoint/breast-cancer-prod",
        )
    ]
    assert sts_checks("GetCallerIdentity", {}, STAGING) == []
    assert sqs_checks("ReceiveMessage", {"QueueUrl": "http://h/111111111111/q1"}, STAGING)[
        0
    ].resource == ("arn:aws:sqs:us-east-1:111111111111:q1")
    assert events_checks("PutEvents", {"Entries": [{}]}, STAGING)[0].resource == (
        "arn:aws:events:us-east-1:333333333333:event-bus/default"
    )
    alias = kms_checks(
        "Decrypt", {"KeyId": "alias/a"}, STAGING, lambda key, account: f"arn:k/{account}"
    )
    assert alias[0].resource == "arn:k/333333333333"


def test_sqs_batch_calls_are_authorized_as_their_single_form() -> None:
    url = {"QueueUrl": "http://h/111111111111/q1"}
    assert sqs_checks("DeleteMessageBatch", url, STAGING)[0].action == "sqs:DeleteMessage"
    assert sqs_checks("SendMessageBatch", url, STAGING)[0].action == "sqs:SendMessage"
