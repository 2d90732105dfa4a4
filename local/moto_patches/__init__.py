"""Fidelity patches for moto server, applied by ``local.moto_server`` before it serves.

This package is the one documented place where the embedded emulator is made to behave like AWS for
what this project deploys. Production roles never know about it. Every patch is pinned to the moto
version it was written against (``MOTO_VERSION``) and has a test in ``tests/unit/test_moto_patches.py``
that fails without it.

Known gaps and what we do about them:

| # | service | gap in moto 5.2.5 | fix |
|---|---------|-------------------|-----|
| 1 | ELBv2 | targets keyed by instance id only: two containers on one instance (ports 8081, 8082) collapse into one target | ``elbv2``: key by (id, port) in register, deregister, describe_target_health |
| 2 | CloudFront | DefaultCacheBehavior aimed at an origin group id is rejected with NoSuchOrigin | ``cloudfront``: accept origin group ids |
| 3 | CloudFront | GetDistributionConfig drops ``S3OriginConfig`` (and ``OriginAccessControlId``) of origins | ``cloudfront``: keep both |
| 4 | CloudFront | invalidations report ``COMPLETED``; AWS (and botocore's waiter) says ``Completed``. A repeated ``CallerReference`` creates a new invalidation; AWS answers the existing one (same paths) or ``InvalidationBatchAlreadyExists`` (other paths) | ``cloudfront``: report ``Completed``; answer a repeated reference as AWS does (so ``cloudfront_site_invalidation`` has no emulator tolerance) |
| 5 | CloudFormation | no ``AWS::Serverless`` transform | not patched: the deploy transforms with samtranslator itself (as ``sam deploy`` does) |
| 6 | CloudFormation | ``AWS::ApiGateway::RestApi`` needs a ``Name``, the swagger ``Body`` is ignored, ``AWS::ApiGateway::Stage`` is unsupported; CreateChangeSet without ``ChangeSetType`` creates a second stack (AWS: UPDATE) | ``cloudformation``: rewrite the template as it is parsed; default ``ChangeSetType`` to UPDATE (see that module) |
| 7 | Lambda/API Gateway | invoke needs registry images; stage URLs are not served in server mode | not patched: ``local/local_api.py`` serves the API routes in-process |
| 8 | ELBv2 | no data plane: the ALB routes no traffic, health is ``healthy`` at once, deregistered targets are ``unused`` at once | closed when ``LOCAL_ALB_PORT`` is set: ``local.dataplane`` runs HAProxy from the ELBv2 state; ``elbv2`` answers DescribeTargetHealth from its checks (``initial``, ``healthy``, ``unhealthy`` + reason, ``draining``, ``unused``) and drains on DeregisterTargets (``tests/integration/test_dataplane_alb.py``) |
| 9 | EC2 | the AMI catalogue has no Debian image (owner 136693071363, ``debian-12-amd64-*``) | ``ec2_amis``: seed two Debian 12 AMIs into the catalogue every backend (and reset) loads |
| 10 | DynamoDB | item writes are not atomic under the threaded server: concurrent ``UpdateItem ADD`` on one item can lose increments | ``dynamodb``: serialise the backend's item reads/writes with one lock |
| 11 | Route 53 | hosted zone ids are 22 random characters; AWS ids start with ``Z`` (the guard checks that form) | ``route53``: ids ``Z`` + 20 characters |
| 12 | CloudFormation | deleting a stack leaves its ``AWS::ApiGateway::RestApi`` (AWS deletes every resource a stack created unless retained) | ``cloudformation``: the stack's delete removes its RestApi (test: ``tests/unit/test_moto_patches_cloudformation.py``) |
| 13 | ELBv2 | a fixed-response ``MessageBody`` longer than 1024 characters is stored; AWS refuses it (ValidationError) | ``elbv2``: refuse it like AWS |
| 14 | CloudFront | distributions serve nothing; CreateInvalidation purges nothing and is complete at once | closed when ``LOCAL_EDGE_PORT`` is set: ``local.edge`` serves each distribution with nginx; ``cloudfront`` purges the edge cache before the invalidation is reported ``Completed`` (``tests/integration/test_dataplane_alb.py``) |
| 15 | S3 | SigV4 signatures are not verified: a GetObject signed with a wrong secret key succeeds (an unsigned GET of a private bucket is refused, 403) | not patched: the local edge reads S3 only with signed requests (``local.edge.S3Signer``), so OAC's path is exercised but its signature is not checked offline |
| 16 | CloudWatch | PutMetricAlarm accepts any ``Period`` and any string as an action (AWS: 10/20/30/multiple of 60; ARNs only; EC2 actions in the alarm's region on an ``InstanceId`` metric; ``recover`` on ``StatusCheckFailed_System`` only) | ``cloudwatch``: validate as AWS does |
| 17 | CloudWatch | alarms never evaluate metrics: their state stays ``INSUFFICIENT_DATA`` unless set | not patched: the roll's bake reads alarm states; tests set them with ``SetAlarmState`` |
| 18 | SNS | an e-mail subscription is confirmed at once (AWS: ``PendingConfirmation`` until the owner clicks the mail) | not patched: nothing reads the confirmation state; the README says to confirm |
| 19 | CloudFront | no response headers policy API (create/get/list/update/delete answer 404), and a distribution may name any ``ResponseHeadersPolicyId`` | ``cloudfront``: the six operations with ETag/IfMatch, unique names, in-use protection; unknown policy ids refused |
| 20 | EC2 | RunInstances starts an instance type whose architecture is not the AMI's (``t4g.*`` with an x86_64 AMI); AWS refuses with InvalidParameterValue | ``ec2_arch``: refuse the pair as AWS does (the guard stops it earlier; this keeps the rehearsal honest) |
| 21 | S3 | lifecycle ``NoncurrentVersionExpiration.NewerNoncurrentVersions`` is dropped (stored and returned by AWS) | ``s3``: keep it and return it (test: ``tests/unit/test_moto_patches_s3.py``) |
| 22 | CloudFront/WAFv2 | an updated distribution stays ``Deployed``; a web ACL a distribution uses (or just released, update not deployed) is deleted at once (AWS: ``InProgress``, ``WAFAssociatedItemException``) | ``cloudfront_waf``: update resets to ``InProgress`` (immediate progression reads ``Deployed`` at once); delete refuses while in use (test: ``tests/unit/test_moto_patches_cloudfront_waf.py``) |
| 23 | EC2 | a prefix-list ingress rule loses its ``Description`` (and UpdateSecurityGroupRuleDescriptionsIngress answers without ``Return``) | ``ec2_rules``: keep it, show it in both describe views, update it, answer ``Return`` (test: ``tests/unit/test_moto_patches.py``); the ALB group's CloudFront rule is described (``aws_network``) |
| 24 | IAM | no policy is evaluated: every call is allowed, whatever the caller's policy, boundary or ``iam:PassRole`` | not patched: ``local/moto_server.py`` records every API action (``CLOUDSITE_RECORD_ACTIONS``) and ``tests/integration/test_real_env.py`` checks each against ``iam/deploy-policy.json.j2`` |
| 25 | CloudFormation | ``AWS::IAM::OIDCProvider`` is accepted but creates no provider (``iam/oidc-providers.yml``) | not patched: the template is cfn-lint checked; the deploy role's trust is read back by ``tests/integration/test_bootstrap_iam.py`` |
| 26 | CloudFormation | no drift detection: DetectStackDrift, DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts are not implemented | ``cloudformation_drift``: the three operations as AWS answers them, template-set properties of ``AWS::Lambda::Function`` and ``AWS::DynamoDB::Table`` compared with the live resources; other types ``NOT_CHECKED`` (test: ``tests/unit/test_moto_patches_cloudformation_drift.py``) |
| 27 | CloudFormation/DynamoDB | a stack's ``AWS::DynamoDB::Table`` ignores ``TimeToLiveSpecification`` and ``PointInTimeRecoverySpecification``, and DescribeTable reports no encryption for ``SSESpecification.SSEEnabled`` (AWS applies all three at creation) | ``cloudformation_drift``: apply TTL and PITR, record SSE as the API does (test: ``tests/unit/test_moto_patches_cloudformation_drift.py``) |
| 28 | S3 | HeadBucket of a bucket another account owns answers 200 with its region (names are global, as on AWS; AWS answers 403) | ``s3_names``: answer 403 (test: ``tests/unit/test_moto_patches_s3.py``); doctor's bucket-name check reads it |
| 29 | Service Quotas/EC2 | GetServiceQuota answers only ``vpc`` codes (NoSuchResource for ``ec2`` L-0263D0A3 Elastic IPs, ``cloudfront`` L-24B04930 distributions); the CloudFront origin-facing prefix list has no ``MaxEntries`` (AWS: 55) | ``servicequotas``: answer those codes' documented defaults; MaxEntries 55 (test: ``tests/unit/test_moto_patches_servicequotas.py``); doctor's quota headroom reads them |
| 30 | EC2/Auto Scaling | CreateLaunchTemplate copies the template's own tags (``ResourceType=launch-template``) into version 1's launch data (a re-run then makes version 2); an instance launched from a template (as an Auto Scaling group launches) ignores its ``MetadataOptions`` and ``IamInstanceProfile``, and a profile that does not exist is accepted | ``ec2_launch_templates``: keep the tags out of the data; apply both to the instance, refuse an unknown profile (test: ``tests/unit/test_moto_patches_launch_templates.py``) |
| 31 | EC2 | an instance never boots: its user data (kept, also from a launch template) never runs, no instance metadata service answers, no instance reaches the AWS endpoints; so an Auto Scaling group's replacement never serves | not a patch: ``local.ec2_boot`` (with the data plane on) starts the instance's stand-in, serves IMDSv2 on 169.254.169.254 inside it, sends the default https endpoints (local CA, /etc/hosts, a TLS relay) to the emulator and runs the user data as cloud-init does, ending in ``boot-finished`` (test: ``tests/unit/test_ec2_boot.py``, ``tests/integration/test_web_asg.py``) |
| 32 | CloudWatch | DescribeAlarms ignores ``MaxRecords``/``NextToken`` (all alarms in one answer) and takes any number of ``AlarmNames`` (AWS: pages of 1-100, at most 100 names, no prefix beside names) | ``cloudwatch``: page and refuse as AWS does (test: ``tests/unit/test_moto_patches.py``), so ``cloudwatch_metric_alarms``' batches and page loop are exercised |
"""

from __future__ import annotations

import importlib

import moto

MOTO_VERSION = "5.2.5"
PATCHES = (
    "elbv2",
    "cloudfront",
    "cloudformation",
    "ec2_amis",
    "dynamodb",
    "route53",
    "cloudwatch",
    "s3",
    "cloudfront_waf",
    "ec2_arch",
    "cloudformation_drift",
    "s3_names",
    "servicequotas",
    "ec2_rules",
    "ec2_launch_templates",
)
_applied: list[str] = []


class MotoVersionMismatch(RuntimeError):
    pass


def apply_all(names: tuple[str, ...] = PATCHES) -> list[str]:
    """Apply every patch once; refuse to patch a moto these patches were not written for."""
    if moto.__version__ != MOTO_VERSION:
        raise MotoVersionMismatch(
            f"local/moto_patches is written for moto {MOTO_VERSION}, found {moto.__version__}: "
            "re-check each gap and update the pin in requirements.txt"
        )
    for name in names:
        if name in _applied:
            continue
        importlib.import_module(f"{__name__}.{name}").apply()
        _applied.append(name)
    return list(_applied)
