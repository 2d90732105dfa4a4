"""The IAM actions an AWS API request needs, from what the recording emulator logs (local/moto_server.py).

Mostly ``<signing name>:<operation>``; the exceptions are the services whose IAM actions are not named
after their operations (S3's bucket sub-resources, API Gateway's HTTP verbs) and the operations that
need more than one action (references: the Service Authorization Reference of each service).
"""

from __future__ import annotations

# Service prefix in IAM where it differs from the signing name.
PREFIX = {"email": "ses", "monitoring": "cloudwatch"}

S3 = {
    "ListObjects": ["s3:ListBucket"],
    "ListObjectsV2": ["s3:ListBucket"],
    "HeadBucket": ["s3:ListBucket"],
    "ListObjectVersions": ["s3:ListBucketVersions"],
    "ListBuckets": ["s3:ListAllMyBuckets"],
    "HeadObject": ["s3:GetObject"],
    "GetObject": ["s3:GetObject", "s3:GetObjectVersion"],
    "CopyObject": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
    "DeleteObjects": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "DeleteObject": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "PutPublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
    "GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
    "DeletePublicAccessBlock": ["s3:PutBucketPublicAccessBlock"],
    "PutBucketEncryption": ["s3:PutEncryptionConfiguration"],
    "GetBucketEncryption": ["s3:GetEncryptionConfiguration"],
    "DeleteBucketEncryption": ["s3:PutEncryptionConfiguration"],
    "DeleteBucketTagging": ["s3:PutBucketTagging"],
    "GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
    "PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
    "DeleteBucketLifecycle": ["s3:PutLifecycleConfiguration"],
    # moto names the ?lifecycle calls by their legacy operation (PutBucketLifecycle, GetBucketLifecycle).
    "PutBucketLifecycle": ["s3:PutLifecycleConfiguration"],
    "GetBucketLifecycle": ["s3:GetLifecycleConfiguration"],
    "GetBucketNotificationConfiguration": ["s3:GetBucketNotification"],
    "GetBucketCors": ["s3:GetBucketCORS"],
    "GetBucketAccelerateConfiguration": ["s3:GetAccelerateConfiguration"],
    "DeleteBucketOwnershipControls": ["s3:PutBucketOwnershipControls"],
    "GetObjectAttributes": ["s3:GetObject", "s3:GetObjectAttributes"],
    "GetObjectLockConfiguration": ["s3:GetBucketObjectLockConfiguration"],
    "ListBucketInventoryConfigurations": ["s3:GetInventoryConfiguration"],
    "ListBucketAnalyticsConfigurations": ["s3:GetAnalyticsConfiguration"],
    "ListBucketMetricsConfigurations": ["s3:GetMetricsConfiguration"],
    "ListBucketIntelligentTieringConfigurations": ["s3:GetIntelligentTieringConfiguration"],
    "GetBucketReplication": ["s3:GetReplicationConfiguration"],
}

# CloudFront operations with tags need the tagging action too.
EXTRA = {
    ("cloudfront", "CreateDistributionWithTags"): ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    ("ec2", "RunInstances"): ["ec2:RunInstances", "ec2:CreateTags"],
}


def iam_actions(entry: dict[str, str]) -> list[str]:
    """IAM actions for one recorded request ``{"service", "operation", "method"}``."""
    service, operation = entry["service"], entry["operation"]
    if service == "s3":
        return S3.get(operation, [f"s3:{operation}"])
    if service == "apigateway":
        return [f"apigateway:{entry['method']}"]
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission
    if (service, operation) in EXTRA:
        return EXTRA[(service, operation)]
    return [f"{PREFIX.get(service, service)}:{operation}"]
