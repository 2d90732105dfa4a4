#!/usr/bin/python
"""Publish a directory to S3 by content hash, with per-file Content-Type and Cache-Control."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: s3_site_sync
short_description: Publish a static site directory to S3 by content hash
description:
  - Uploads new and changed files of I(src) to I(bucket) concurrently and, optionally, deletes stored keys
    that no longer exist locally, after every upload succeeded.
  - Plans by content, never by size or modification time. One paginated C(ListObjectsV2) of the prefix and
    one C(GetObject) of a manifest object replace the per-file C(HeadObject) of M(community.aws.s3_sync).
  - Each local file is hashed (MD5) once - or not at all when I(hash_cache) holds its hash for its current
    size, modification time, change time and inode (see I(hash_cache) for the limit of that).
  - Why a manifest. The listing gives each key's ETag (the body's MD5 for single-part, non-KMS objects)
    but no Content-Type, Cache-Control or user metadata, so it cannot prove the metadata still follows
    the rules. After each publish the module writes I(manifest_key) listing key -> md5, ETag,
    Content-Type and Cache-Control. An entry is trusted while its ETag equals the listed one; keys
    without a trusted entry whose body may be unchanged are checked with one C(HeadObject) each (only on
    the first publish to a bucket written by another tool or after the manifest was lost). A change of
    Content-Type or Cache-Control re-uploads the object.
  - Every object also carries its MD5 in user metadata C(x-amz-meta-content-md5), so a HEAD can prove the
    content of multipart and KMS-encrypted objects, whose ETag is not an MD5.
  - Bad input fails before any upload - missing I(src), an unreadable file, a bucket that does not exist.
  - In check mode the plan is returned and nothing is written; with C(--diff) the changing keys are shown.
options:
  bucket:
    description: Name of the target bucket.
    type: str
    required: true
  src:
    description: Local directory to publish.
    type: path
    required: true
  prefix:
    description: Key prefix inside the bucket (no leading or trailing slash needed).
    type: str
    default: ""
  delete:
    description: Delete stored keys under I(prefix) that do not exist in I(src), after all uploads succeeded.
    type: bool
    default: false
  hash_cache:
    description:
      - JSON file of the MD5 of each file under I(src), keyed by its path relative to I(src) with the size,
        mtime, ctime and inode it had when hashed. A file whose four values are unchanged is not read again;
        every other file is hashed, and the file is rewritten to list exactly the files of I(src) (not in
        check mode). C(app/build_site.py --hash-cache) writes one for the tree it builds, from the bytes it
        writes, so a publish right after a build hashes nothing.
      - A missing or unreadable file counts as empty; one that cannot be written is reported as a warning.
      - The limit of the approach - a file rewritten in place with the same size within the same timestamp
        tick as the recorded state (milliseconds on Linux file systems, a whole second on file systems that
        store seconds) keeps all four values, and its recorded hash is used. Leave I(hash_cache) unset to
        hash every file on every run.
    type: path
  exclude:
    description: Globs of local paths to skip (a pattern without C(/) matches the basename).
    type: list
    elements: str
    default: []
  max_concurrency:
    description: Number of uploads in flight at once.
    type: int
    default: 16
  multipart_threshold:
    description: Files of this size in bytes or larger are uploaded in parts.
    type: int
    default: 8388608
  multipart_chunksize:
    description: Part size in bytes for multipart uploads.
    type: int
    default: 8388608
  content_types:
    description:
      - Extension to Content-Type map, merged over the built-in overrides (C(.html), C(.js), C(.css),
        C(.json), C(.svg), C(.woff2) ...). Other extensions use Python's built-in type table.
    type: dict
    default: {}
  cache_control_rules:
    description:
      - Ordered list of C({glob, cache_control}); the first matching glob wins. A glob without C(/)
        matches the basename, one with C(/) the whole relative path.
      - Default - C(*.html), C(config.json), C(version.json) get C(no-cache); hashed assets
        (C(name.<8+ hex digits>.ext)) get C(public, max-age=31536000, immutable).
    type: list
    elements: dict
  default_cache_control:
    description: Cache-Control of files no rule matches.
    type: str
    default: "public, max-age=300"
  manifest_key:
    description: Name of the manifest object, relative to I(prefix). It is never deleted or uploaded from I(src).
    type: str
    default: .site-sync-manifest.json
  pending_key:
    description:
      - Object, relative to I(prefix), that records the paths uploaded or deleted but not yet invalidated. It
        is written before the uploads and deleted by the caller once the invalidation is accepted (see
        RV(pending_invalidation)), so a run stopped in between leaves the next run the invalidation to make.
    type: str
    default: .site-sync-pending-invalidation.json
  encryption:
    description: Server-side encryption for uploaded objects.
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
- name: Publish the site build
  cloudsite.aws.s3_site_sync:
    bucket: "{{ site_bucket_name }}"
    src: "{{ site_build_dir }}"
    delete: true
  register: __static_site_sync

- name: Publish with a custom rule for fonts
  cloudsite.aws.s3_site_sync:
    bucket: my-site
    src: /srv/site
    cache_control_rules:
      - {glob: "*.html", cache_control: no-cache}
      - {glob: "fonts/*", cache_control: "public, max-age=31536000, immutable"}
"""

RETURN = r"""
uploaded:
  description: Relative paths uploaded (or to be uploaded in check mode).
  returned: always
  type: list
  elements: str
  sample: [index.html, assets/app.3f9a1c2b.js]
deleted:
  description: Relative paths deleted (or to be deleted in check mode).
  returned: always
  type: list
  elements: str
unchanged:
  description: Relative paths already up to date.
  returned: always
  type: list
  elements: str
uploaded_count:
  description: Number of uploads.
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
  description: Why each upload happens - new, content, content-type, cache-control or unverified.
  returned: always
  type: dict
  sample: {index.html: content}
verified:
  description: Number of HeadObject requests made (keys without a trusted manifest entry).
  returned: always
  type: int
manifest_written:
  description: Whether the manifest object was (or would be) rewritten.
  returned: always
  type: bool
pending_invalidation:
  description:
    - Paths to invalidate now, relative to I(prefix) (C(/) separators, no leading slash) - this run's uploads
      and deletes plus those an earlier, interrupted run recorded but never had invalidated.
  returned: always
  type: list
  elements: str
pending_key:
  description: Full key of the pending-invalidation record (delete it once the invalidation is accepted).
  returned: always
  type: str
previous_manifest_digest:
  description:
    - Digest of the manifest found before this run (empty when there was none); it names the build the run
      started from. Passed into the invalidation's I(build_hash), it makes the CallerReference name the
      transition, so publishing a build again after a rollback invalidates again.
  returned: always
  type: str
"""

import os
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.cloudsite.aws.plugins.module_utils.site_bucket import SiteBucket, parse_pending
from ansible_collections.cloudsite.aws.plugins.module_utils.site_files import (
    DEFAULT_CACHE_CONTROL,
    DEFAULT_CACHE_RULES,
    HashCache,
    LocalFile,
    md5_base64,
    scan_local,
    strip_prefix,
)
from ansible_collections.cloudsite.aws.plugins.module_utils.site_manifest import (
    CONTENT_MD5_META,
    DEFAULT_MANIFEST_KEY,
    ObjectState,
    RemoteObject,
    manifest_digest,
    parse_manifest,
    render_manifest,
    state_from_head,
)
from ansible_collections.cloudsite.aws.plugins.module_utils.site_sync import next_manifest, plan_diff, plan_sync


class SiteSync(SiteBucket):
    """Wires the pure planner in ``module_utils/site_sync.py`` (and the scan of ``site_files.py``) to boto3."""

    def fail(self, error: Exception, msg: str) -> None:
        if isinstance(error, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError):
            self.module.fail_json_aws(error, msg=msg)
        self.module.fail_json(msg=f"{msg}: {error}")

    # --- reads ---------------------------------------------------------------------------------
    def start_reads(self) -> tuple[Future, Future, Future]:
        """Send the listing and the GETs of the manifest and of the pending-invalidation record at once, on
        threads, while the caller scans the local tree (a missing object answers NoSuchKey). Nothing here
        fails the module: ``finish_reads`` does, on the main thread."""
        pool = ThreadPoolExecutor(3)
        reads = (
            pool.submit(self.list_objects),
            pool.submit(self.get_body, self.manifest_key),
            pool.submit(self.get_body, self.pending_key),
        )
        pool.shutdown(wait=False)  # the three calls run on; their results are waited for in finish_reads
        return reads

    def finish_reads(
        self, reads: tuple[Future, Future, Future]
    ) -> tuple[dict[str, RemoteObject], dict[str, ObjectState], list[str]]:
        """The listing, the manifest and the pending paths; each GET counts only when the listing holds its key."""
        listing, manifest, pending = reads
        try:
            remote = listing.result()
        except is_boto3_error_code("NoSuchBucket") as e:
            self.module.fail_json_aws(e, msg=f"Bucket {self.bucket} does not exist; nothing was uploaded")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Failed to list s3://{self.bucket}/{self.prefix}")
        states: dict[str, ObjectState] = {}
        if self.manifest_key in remote:
            try:
                states = parse_manifest(manifest.result())
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                self.module.fail_json_aws(e, msg=f"Failed to read the manifest {self.manifest_key}")
        paths: list[str] = []
        if self.pending_listed:
            try:
                paths = parse_pending(pending.result())
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError) as e:
                self.fail(e, f"Cannot read {self.pending_key}; nothing was uploaded")
        return remote, states, paths

    def head(self, key: str):
        answer = self.client.head_object(aws_retry=True, Bucket=self.bucket, Key=key)
        return state_from_head(
            answer["ETag"], answer.get("ContentType"), answer.get("CacheControl"), answer.get("Metadata", {})
        )

    def head_all(self, keys: list[str]):
        if not keys:
            return {}
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                return dict(zip(keys, pool.map(self.head, keys), strict=True))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            self.module.fail_json_aws(e, msg="Failed to read object metadata")

    # --- writes --------------------------------------------------------------------------------
    def upload(self, item: LocalFile) -> str:
        """Upload one file; returns the stored ETag."""
        args = {
            "Bucket": self.bucket,
            "Key": item.key,
            "ContentType": item.content_type,
            "CacheControl": item.cache_control,
            "Metadata": {CONTENT_MD5_META: item.md5},
            **self.extra,
        }
        if item.size < self.module.params["multipart_threshold"]:
            # Bytes, not the open file: a retried call (aws_retry) must send the body again from its start.
            with open(item.path, "rb") as handle:
                body = handle.read()
            return self.client.put_object(aws_retry=True, Body=body, ContentMD5=md5_base64(item.md5), **args)["ETag"]
        chunk = max(5 * 1024 * 1024, self.module.params["multipart_chunksize"])
        upload_id = self.client.create_multipart_upload(aws_retry=True, **args)["UploadId"]
        try:
            parts = []
            with open(item.path, "rb") as body:
                number = 1
                while data := body.read(chunk):
                    answer = self.client.upload_part(
                        aws_retry=True,
                        Bucket=self.bucket,
                        Key=item.key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=data,
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                    number += 1
            return self.client.complete_multipart_upload(
                aws_retry=True, Bucket=self.bucket, Key=item.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )["ETag"]
        except BaseException:
            self.client.abort_multipart_upload(aws_retry=True, Bucket=self.bucket, Key=item.key, UploadId=upload_id)
            raise

    def upload_all(self, items: list[LocalFile]) -> tuple[dict[str, str], Exception | None]:
        """Upload concurrently; on the first failure, stop starting new uploads."""
        etags: dict[str, str] = {}
        if not items:
            return etags, None
        # Largest first, so a multipart upload does not start last and run alone.
        items = sorted(items, key=lambda i: -i.size)
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = {pool.submit(self.upload, item): item.key for item in items}
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            error = None
            for future in list(done) + [f for f in pending if not f.cancelled()]:
                try:
                    etags[futures[future]] = future.result()
                except Exception as e:  # reported after the manifest is saved
                    error = error or e
        return etags, error


def run(module: AnsibleAWSModule) -> dict:
    p = module.params
    src = p["src"]
    if not os.path.isdir(src):
        module.fail_json(msg=f"src {src} is not a directory; nothing was uploaded")
    sync = SiteSync(module)
    # The bucket is read while the tree is scanned (and hashed): neither waits for the other.
    reads = sync.start_reads()
    cache = HashCache.load(p["hash_cache"]) if p["hash_cache"] else None
    try:
        local = scan_local(
            src,
            prefix=p["prefix"],
            exclude=p["exclude"],
            content_types=p["content_types"],
            cache_rules=p["cache_control_rules"] if p["cache_control_rules"] is not None else DEFAULT_CACHE_RULES,
            default_cache_control=p["default_cache_control"],
            manifest_key=p["manifest_key"],
            hash_cache=cache,
        )
    except OSError as e:
        module.fail_json(msg=f"Cannot read {e.filename or src}: {e.strerror or e}; nothing was uploaded")
    if cache is not None and cache.changed and not module.check_mode:
        try:
            cache.save(p["hash_cache"])
        except OSError as e:
            module.warn(f"Cannot write the hash cache {p['hash_cache']}: {e}; the next run hashes again")
    remote, manifest, pending_before = sync.finish_reads(reads)
    plan = plan_sync(local, remote, manifest, delete=p["delete"], manifest_key=sync.manifest_key)
    heads = {}
    if plan.verify:
        heads = sync.head_all(plan.verify)
        plan = plan_sync(local, remote, manifest, heads=heads, delete=p["delete"], manifest_key=sync.manifest_key)

    rel = lambda keys: [strip_prefix(sync.prefix, k) for k in keys]  # noqa: E731
    location = f"s3://{sync.bucket}/{sync.prefix}"
    known = {**heads, **{k: v for k, v in manifest.items() if k in remote and v.etag == remote[k].etag}}
    result = {
        "uploaded": rel(sorted(plan.upload)),
        "deleted": rel(plan.delete),
        "unchanged": rel(plan.unchanged),
        "uploaded_count": len(plan.upload),
        "deleted_count": len(plan.delete),
        "unchanged_count": len(plan.unchanged),
        "reasons": {strip_prefix(sync.prefix, k): v for k, v in plan.upload.items()},
        "verified": len(heads),
        "previous_manifest_digest": manifest_digest(manifest),
        "pending_key": sync.pending_key,
    }
    changes = rel(sorted(plan.upload)) + rel(plan.delete)
    result["pending_invalidation"] = sorted(set(pending_before) | set(changes))
    if module._diff:
        result["diff"] = plan_diff(plan, local, remote, known, location)

    # Manifest as it would be if every upload succeeds (the ETag of an upload is known only after it).
    projected = next_manifest(plan, local, remote, {}, manifest, plan.delete)
    manifest_stale = bool(plan.upload) or bool(plan.delete) or projected != manifest
    result["manifest_written"] = manifest_stale
    result["changed"] = plan.changed or manifest_stale
    if module.check_mode or not result["changed"]:
        return result

    # Recorded before the first upload: whatever happens next, the next run knows what to invalidate.
    if not set(changes) <= set(pending_before):
        try:
            sync.write_pending(result["pending_invalidation"])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            sync.fail(e, f"Cannot record the pending invalidation in {sync.pending_key}; nothing was uploaded")
    etags, error = sync.upload_all([local[k] for k in plan.upload])
    deleted: list[str] = []
    if error is None and plan.delete:
        try:
            sync.delete_keys(plan.delete)
            deleted = plan.delete
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, RuntimeError) as e:
            error = e
    # Save what did succeed, so the next run does not redo it, then report the failure.
    states = next_manifest(plan, local, remote, etags, manifest, deleted)
    try:
        sync.write_manifest(render_manifest(states))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        error = error or e
    if error is not None:
        failed = sorted(set(plan.upload) - set(etags))
        result.update(uploaded=rel(sorted(etags)), uploaded_count=len(etags), deleted=rel(deleted))
        result["deleted_count"] = len(deleted)
        result["failed"] = rel(failed)
        sync.fail(error, f"Publishing to {location} failed ({len(failed)} uploads not done, deletes skipped)")
    return result


def main() -> None:
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        src=dict(type="path", required=True),
        prefix=dict(type="str", default=""),
        delete=dict(type="bool", default=False),
        exclude=dict(type="list", elements="str", default=[]),
        hash_cache=dict(type="path"),
        max_concurrency=dict(type="int", default=16),
        multipart_threshold=dict(type="int", default=8 * 1024 * 1024),
        multipart_chunksize=dict(type="int", default=8 * 1024 * 1024),
        content_types=dict(type="dict", default={}),
        cache_control_rules=dict(type="list", elements="dict"),
        default_cache_control=dict(type="str", default=DEFAULT_CACHE_CONTROL),
        manifest_key=dict(type="str", default=DEFAULT_MANIFEST_KEY, no_log=False),
        pending_key=dict(type="str", default=".site-sync-pending-invalidation.json", no_log=False),
        encryption=dict(type="str", choices=["none", "AES256", "aws:kms"], default="none"),
        kms_key_id=dict(type="str", no_log=False),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    for rule in module.params["cache_control_rules"] or []:
        if set(rule) != {"glob", "cache_control"}:
            module.fail_json(msg=f"cache_control_rules entries need exactly glob and cache_control, got {rule}")
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
