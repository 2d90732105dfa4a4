"""Pure logic for packaging a SAM template's function code (no AWS calls).

``sam package`` zips each function's ``CodeUri`` directory, uploads it and rewrites the template to
point at the upload. This module does the local half, reproducibly: the zip of a directory depends
only on the files' relative paths and bytes (sorted entries, fixed timestamps, fixed permissions),
so the object key derived from its hash changes exactly when the code changes.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import zipfile
from typing import Any

import yaml

# 1980-01-01 00:00:00: the earliest timestamp a zip entry can hold.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt ...)."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(text: str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template written in YAML (short intrinsics included) or JSON."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - _CfnLoader derives from SafeLoader
    if not isinstance(data, dict):
        raise ValueError("the template is not a mapping")
    return data


def _included(name: str) -> bool:
    return not name.endswith(EXCLUDED_SUFFIXES)


def list_files(src_dir: str) -> list[str]:
    """Relative POSIX paths of the files to package, sorted, caches excluded."""
    found: list[str] = []
    for root, dirs, files in os.walk(src_dir):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS)
        for name in files:
            if _included(name):
                rel = os.path.relpath(os.path.join(root, name), src_dir)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def deterministic_zip(src_dir: str) -> bytes:
    """Zip a directory so that equal contents give byte-equal archives."""
    files = list_files(src_dir)
    if not files:
        raise ValueError(f"{src_dir} holds no files to package")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
            info.external_attr = (0o100000 | FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode bits above are honoured
            with open(os.path.join(src_dir, rel), "rb") as handle:
                archive.writestr(info, handle.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def artifact_key(data: bytes, prefix: str = "") -> str:
    """Content-addressed object key: ``<prefix><sha256>.zip``."""
    return f"{prefix}{hashlib.sha256(data).hexdigest()}.zip"


def local_code_uris(template: dict[str, Any]) -> dict[str, str]:
    """Map function logical id -> local CodeUri for every AWS::Serverless::Function with a local path."""
    global_uri = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    uris: dict[str, str] = {}
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        if props.get("InlineCode") or props.get("ImageUri"):
            continue
        uri = props.get("CodeUri", global_uri)
        if isinstance(uri, str) and not uri.startswith("s3://"):
            uris[logical_id] = uri
    return uris


def rewrite_code_uris(template: dict[str, Any], locations: dict[str, str]) -> dict[str, Any]:
    """A copy of the template with each function's CodeUri replaced by ``locations[logical_id]``."""
    result = copy.deepcopy(template)
    resources = result.get("Resources", {})
    for logical_id, uri in locations.items():
        if logical_id not in resources:
            raise KeyError(f"no resource {logical_id} in the template")
        resources[logical_id].setdefault("Properties", {})["CodeUri"] = uri
    return result
