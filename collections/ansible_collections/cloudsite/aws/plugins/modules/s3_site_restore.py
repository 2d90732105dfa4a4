#!/usr/bin/python
"""Roll a published site back to an earlier build, from the versions of a versioned bucket."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: s3_site_restore
short_description: Restore an earlier build of a static site from S3 object versions
description:
  - The rollback of M(s3_site_sync). In a versioned bucket the versions of the sync's manifest object
    (I(manifest_key), written last on every publish) are the history of builds, each listing key -> md5,
    ETag, Content-Type and Cache-Control. This module reads the newest manifest version and the one
    I(steps_back) before it (C(ListObjectVersions) on the manifest key, two C(GetObject)).
  - For each key of that earlier build whose stored object differs (another ETag, or Content-Type or
    Cache-Control the newest manifest does not vouch for) it finds the object version with the earlier
    ETag (C(ListObjectVersions) with the key as prefix; among versions sharing an ETag, the one in place
    when that manifest was written) and copies it over the key (C(CopyObject) with the version id and
    C(MetadataDirective=COPY), so Content-Type, Cache-Control and user metadata come back as they were).
  - Then, after every copy succeeded, it deletes the keys the earlier build lacked (I(delete)), and
    finally writes the earlier manifest as the newest version. A second run with I(steps_back=1) therefore
    goes forward again, like the frontend rollback.
  - Nothing is changed when a needed version no longer exists (a lifecycle rule expired it, or the bucket
    was not versioned) - the module fails naming the keys. If a copy fails, deletes are skipped and the
    manifest is not written, so a re-run plans the same rollback again.
  - In check mode the plan is returned and nothing is written; with C(--diff) the changing keys are shown.
  - Why a module of its own rather than a mode of M(s3_site_sync) - the two share no input but the bucket
    (the sync's source directory, excludes, type and cache rules and multipart settings mean nothing to a
    restore, I(steps_back) nothing to a sync), and a mode switch would make every option conditional.
    Both modules share the manifest format (C(module_utils/site_manifest.py)); the restore planning is
    C(module_utils/site_restore.py).
  - Objects of 5 GiB or more would need a multipart copy, which this module does not do (a site has none).
options:
  bucket:
    description: Name of the versioned site bucket.
    type: str
    required: true
  prefix:
    description: Key prefix the site was published under (as given to M(s3_site_sync)).
    type: str
    default: ""
  steps_back:
    description: How many publishes to go back; C(1) is the build before the current one.
    type: int
    default: 1
  delete:
    description: Delete stored keys under I(prefix) that the restored build lacks, after every copy succeeded.
    type: bool
    default: true
  max_concurrency:
    description: Number of listings or copies in flight at once.
    type: int
    default: 16
  manifest_key:
    description: Name of the manifest object, relative to I(prefix) (as given to M(s3_site_sync)).
    type: str
    default: .site-sync-manifest.json
  encryption:
    description: Server-side encryption of the restored objects and the manifest (as given to M(s3_site_sync)).
    type: str
    choices: [none, AES256, "aws:kms"]
    default: none
  kms_key_id:
    description: KMS key for I(encryption=aws:kms); the account's default key when omitted.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - cloudsite maintainers
"""

EXAMPLES = r"""
- name: Restore the build before the current one
  cloudsite.aws.s3_site_restore:
    bucket: "{{ site_bucket_name }}"
  register: __static_site_restore

- name: Invalidate what the restore changed
  cloudsite.aws.cloudfront_site_invalidation:
    distribution_id: "{{ cloudfront_distribution_id }}"
    keys: "{{ __static_site_restore.restored + __static_site_restore.deleted }}"
    build_hash: "rollback-{{ __static_site_restore.current_manifest_version_id }}-{{ __static_site_restore.target_manifest_version_id }}"

- name: Go back two publishes
  cloudsite.aws.s3_site_restore:
    bucket: my-site
    steps_back: 2
"""

RETURN = r"""
restored:
  description: Relative paths copied back from an earlier version (or to be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [index.html, assets/app.3f9a1c2b.js]
deleted:
  description: Relative paths deleted because the restored build lacks them (or to be, in check mode).
  returned: always
  type: list
  elements: str
unchanged:
  description: Relative paths already as the restored build has them.
  returned: always
  type: list
  elements: str
restored_count:
  description: Number of copies.
  returned: always
  type: int
deleted_count:
  description: Number of deletes.
  returned: always
  type: int
unchanged_count:
  description: Number of keys left alone.
  returned: always
  type: int
reasons:
  description: Why each key is restored - missing, content, metadata or unverified.
  returned: always
  type: dict
  sample: {index.html: content}
versions:
  description: The object version id copied over each restored key.
  returned: always
  type: dict
current_manifest_version_id:
  description: Version id of the manifest that described the build being replaced.
  returned: always
  type: str
target_manifest_version_id:
  description: Version id of the manifest of the build restored.
  returned: always
  type: str
manifest_version_id:
  description: Version id of the manifest written by this run.
  returned: when the manifest was written
  type: str
manifest_written:
  description: Whether the manifest object was (or would be) rewritten.
  returned: always
  type: bool
"""

from concurrent.futures import ThreadPoolExecutor

try:
    import botocore.exceptions

    AWS_ERRORS: tuple[type[Exception], ...] = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.cloudsite.aws.plugins.module_utils.site_bucket import SiteBucket, all_pages
from ansible_collections.cloudsite.aws.plugins.module_utils.site_files import strip_prefix
from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import (
    DEFAULT_MANIFEST_KEY,
    RemoteObject,
    normalise_etag,
    parse_manifest_strict,
    render_manifest,
)
from ansible_collections.cloudsite.aws.plugins.module_utils.site_restore import (
    ObjectVersion,
    attach_sources,
    manifest_versions,
    plan_restore,
    restore_diff,
    restored_manifest,
)


class SiteRestore(SiteBucket):
    """Wires the pure restore planning in ``module_utils/site_restore.py`` to boto3."""

    # --- reads ---------------------------------------------------------------------------------
    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of exactly ``key`` in the listing's order (newest first), then its delete markers.

        botocore splits a page into ``Versions`` and ``DeleteMarkers``, which loses their interleaving;
        the planning skips delete markers, so only the order of the versions matters, and S3 keeps it.
        """
        versions: list[ObjectVersion] = []
        markers: list[ObjectVersion] = []
        for page in all_pages(self.client, "list_object_versions", Bucket=self.bucket, Prefix=key):
            for items, into, marker in (
                (page.get("Versions", []), versions, False),
                (page.get("DeleteMarkers", []), markers, True),
            ):
                into.extend(
                    ObjectVersion(
                        key=key,
                        version_id=item["VersionId"],
                        etag="" if marker else normalise_etag(item["ETag"]),
                        last_modified=item["LastModified"].timestamp(),
                        is_latest=item["IsLatest"],
                        delete_marker=marker,
                    )
                    for item in items
                    if item["Key"] == key  # the prefix also matches e.g. index.html.bak
                )
        return versions + markers

    def versions_of(self, keys: list[str]) -> dict[str, list[ObjectVersion]]:
        if not keys:
            return {}
        with ThreadPoolExecutor(self.concurrency) as pool:
            return dict(zip(keys, pool.map(self.versions, keys), strict=True))

    def list_remote(self) -> dict[str, RemoteObject]:
        return self.list_objects()

    def read_version(self, version: ObjectVersion) -> bytes:
        return self.client.get_object(
            aws_retry=True, Bucket=self.bucket, Key=version.key, VersionId=version.version_id
        )["Body"].read()

    def versioning_status(self) -> str:
        try:
            return (
                self.client.get_bucket_versioning(aws_retry=True, Bucket=self.bucket).get("Status") or "never enabled"
            )
        except AWS_ERRORS:
            return "unknown"

    # --- writes --------------------------------------------------------------------------------
    def copy(self, version: ObjectVersion) -> str:
        """Copy one version over its key; returns the new object's ETag."""
        answer = self.client.copy_object(
            aws_retry=True,
            Bucket=self.bucket,
            Key=version.key,
            CopySource={"Bucket": self.bucket, "Key": version.key, "VersionId": version.version_id},
            MetadataDirective="COPY",
            **self.extra,
        )
        return answer["CopyObjectResult"]["ETag"]

    def copy_all(self, versions: list[ObjectVersion]) -> tuple[dict[str, str], dict[str, Exception]]:
        etags: dict[str, str] = {}
        errors: dict[str, Exception] = {}
        if not versions:
            return etags, errors
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = {version.key: pool.submit(self.copy, version) for version in versions}
            for key, future in futures.items():
                try:
                    etags[key] = future.result()
                except Exception as e:  # reported together, after every copy has finished
                    errors[key] = e
        return etags, errors


def named(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def run(module: AnsibleAWSModule) -> dict:
    p = module.params
    restore = SiteRestore(module)
    location = f"s3://{restore.bucket}/{restore.prefix}"
    nothing = "; nothing was changed"

    # Read everything and plan before the first write.
    try:
        history = restore.versions(restore.manifest_key)
    except is_boto3_error_code("NoSuchBucket") as e:
        module.fail_json_aws(e, msg=f"Bucket {restore.bucket} does not exist{nothing}")
    except AWS_ERRORS as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to list the versions of {restore.manifest_key} in {location}")
    try:
        current_version, target_version = manifest_versions(history, restore.manifest_key, p["steps_back"])
    except ValueError as e:
        module.fail_json(
            msg=f"Cannot roll {location} back: {e} (bucket versioning: {restore.versioning_status()}){nothing}"
        )
    try:
        current = parse_manifest_strict(restore.read_version(current_version), "the current manifest")
    except ValueError:
        current = {}  # only used to vouch for metadata: without it every differing key is restored
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to read {restore.manifest_key} version {current_version.version_id}")
    try:
        target = parse_manifest_strict(
            restore.read_version(target_version),
            f"{restore.manifest_key} version {target_version.version_id}",
        )
    except ValueError as e:
        module.fail_json(msg=f"Cannot roll {location} back: {e}{nothing}")
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to read {restore.manifest_key} version {target_version.version_id}")
    try:
        remote = restore.list_remote()
        plan = plan_restore(target, current, remote, delete=p["delete"], manifest_key=restore.manifest_key)
        plan = attach_sources(
            plan, target, restore.versions_of(sorted(plan.restore)), not_after=target_version.last_modified
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Failed to list {location} or its object versions{nothing}")

    rel = lambda keys: [strip_prefix(restore.prefix, k) for k in keys]  # noqa: E731
    if plan.missing:
        module.fail_json(
            msg=f"Cannot roll {location} back to {restore.manifest_key} version {target_version.version_id}: "
            f"no stored version of {named(rel(plan.missing))} has the ETag that build had (expired by a "
            f"lifecycle rule or deleted){nothing}",
            missing=rel(plan.missing),
        )

    result = {
        "restored": rel(sorted(plan.restore)),
        "deleted": rel(plan.delete),
        "unchanged": rel(plan.unchanged),
        "restored_count": len(plan.restore),
        "deleted_count": len(plan.delete),
        "unchanged_count": len(plan.unchanged),
        "reasons": {strip_prefix(restore.prefix, k): v for k, v in plan.restore.items()},
        "versions": {strip_prefix(restore.prefix, k): v.version_id for k, v in plan.sources.items()},
        "current_manifest_version_id": current_version.version_id,
        "target_manifest_version_id": target_version.version_id,
    }
    if module._diff:
        result["diff"] = restore_diff(plan, target, current, remote, location)

    kept = [] if p["delete"] else [k for k in remote if k not in target and k != restore.manifest_key]
    # As it will be when every copy succeeds (a copy's ETag is known only after it).
    projected = restored_manifest(target, {}, current, remote, kept)
    result["manifest_written"] = plan.changed or render_manifest(projected) != render_manifest(current)
    result["changed"] = result["manifest_written"]
    if module.check_mode or not result["changed"]:
        return result

    etags, errors = restore.copy_all([plan.sources[k] for k in sorted(plan.restore)])
    if errors:
        failed = sorted(errors)
        result.update(restored=rel(sorted(etags)), restored_count=len(etags), deleted=[], deleted_count=0)
        result["not_restored"] = rel(failed)
        first = errors[failed[0]]
        msg = (
            f"Rolling {location} back failed: {len(failed)} copies not done ({named(rel(failed))}); deletes "
            "skipped and the manifest not written, so a re-run plans the same rollback"
        )
        if isinstance(first, AWS_ERRORS):
            module.fail_json_aws(first, msg=msg, **result)
        module.fail_json(msg=f"{msg}: {first}", **result)
    try:
        restore.delete_keys(plan.delete)
    except (*AWS_ERRORS, RuntimeError) as e:
        result.update(deleted=[], deleted_count=0)
        module.fail_json(
            msg=f"Rolling {location} back: every copy succeeded, deleting failed ({e}); the manifest was not "
            "written, so a re-run plans the deletes again",
            **result,
        )
    try:
        result["manifest_version_id"] = restore.write_manifest(
            render_manifest(restored_manifest(target, etags, current, remote, kept))
        )
    except AWS_ERRORS as e:
        module.fail_json_aws(e, msg=f"Rolling {location} back: objects restored, writing the manifest failed")
    return result


def main() -> None:
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        prefix=dict(type="str", default=""),
        steps_back=dict(type="int", default=1),
        delete=dict(type="bool", default=True),
        max_concurrency=dict(type="int", default=16),
        manifest_key=dict(type="str", default=DEFAULT_MANIFEST_KEY, no_log=False),
        encryption=dict(type="str", choices=["none", "AES256", "aws:kms"], default="none"),
        kms_key_id=dict(type="str", no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["steps_back"] < 1:
        module.fail_json(msg=f"steps_back must be 1 or more, got {module.params['steps_back']}")
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
