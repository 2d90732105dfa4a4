#!/usr/bin/python
# Copyright: cloudsite maintainers
# MIT License
"""Package a SAM template's function code into deterministic, content-addressed zips."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sam_package
short_description: Zip each SAM function's code reproducibly and point the template at the uploads
description:
  - The local half of C(sam package). For every C(AWS::Serverless::Function) whose C(CodeUri) is a local
    directory, builds a zip whose bytes depend only on the files' relative paths and contents (sorted
    entries, fixed timestamps, fixed permissions) and writes it to O(dest) as C(<sha256>.zip).
  - Returns the template with each C(CodeUri) rewritten to C(s3://<bucket>/<prefix><sha256>.zip); uploading
    the zips (see RV(artifacts)) is left to M(amazon.aws.s3_object).
  - Makes no AWS call.
version_added: 0.1.0
author: cloudsite maintainers
options:
  template:
    description: Path of the SAM template (YAML with short intrinsics, or JSON). CodeUri paths are relative to it.
    type: path
    required: true
  dest:
    description: Directory the zips are written to (created when missing).
    type: path
    required: true
  bucket:
    description: Bucket the zips will be uploaded to (used in the rewritten CodeUri).
    type: str
    required: true
  key_prefix:
    description: Prefix of the object keys.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Package the backend functions
  cloudsite.aws.sam_package:
    template: "{{ repo_root }}/app/backend/template.yaml"
    dest: "{{ output_root }}/sam"
    bucket: cloudsite-artifacts
    key_prefix: backend/
  register: packaged
"""

RETURN = r"""
artifacts:
  description: One entry per packaged function.
  returned: always
  type: list
  elements: dict
  contains:
    logical_id: {description: The function's logical id., type: str}
    source: {description: The packaged directory., type: str}
    path: {description: Local path of the zip., type: str}
    key: {description: Object key of the upload., type: str}
    sha256: {description: SHA-256 of the zip., type: str}
    size: {description: Size of the zip in bytes., type: int}
    s3_uri: {description: The rewritten CodeUri., type: str}
template:
  description: The SAM template with every local CodeUri replaced by its s3:// URI.
  returned: always
  type: dict
"""

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cloudsite.aws.plugins.module_utils.sam_artifacts import (
    artifact_key,
    deterministic_zip,
    load_template,
    local_code_uris,
    rewrite_code_uris,
)


def _write_if_changed(path: str, data: bytes) -> bool:
    if os.path.exists(path):
        with open(path, "rb") as handle:
            if hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest():
                return False
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            template=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            bucket=dict(type="str", required=True),
            key_prefix=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    template_path = module.params["template"]
    base_dir = os.path.dirname(os.path.abspath(template_path))
    try:
        with open(template_path, encoding="utf-8") as handle:
            template = load_template(handle.read())
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the SAM template {template_path}: {exc}")

    changed = False
    artifacts = []
    locations = {}
    for logical_id, uri in local_code_uris(template).items():
        source = os.path.normpath(os.path.join(base_dir, uri))
        if not os.path.isdir(source):
            module.fail_json(msg=f"CodeUri of {logical_id} is not a directory: {source}")
        try:
            data = deterministic_zip(source)
        except (OSError, ValueError) as exc:
            module.fail_json(msg=f"cannot package {logical_id} from {source}: {exc}")
        key = artifact_key(data, module.params["key_prefix"])
        path = os.path.join(module.params["dest"], os.path.basename(key))
        if not module.check_mode:
            os.makedirs(module.params["dest"], exist_ok=True)
            changed |= _write_if_changed(path, data)
        elif not os.path.exists(path):
            changed = True
        s3_uri = f"s3://{module.params['bucket']}/{key}"
        locations[logical_id] = s3_uri
        artifacts.append(
            dict(
                logical_id=logical_id,
                source=source,
                path=path,
                key=key,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                s3_uri=s3_uri,
            )
        )
    module.exit_json(changed=changed, artifacts=artifacts, template=rewrite_code_uris(template, locations))


if __name__ == "__main__":
    main()
