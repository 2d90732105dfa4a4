#!/usr/bin/python
"""Export an image as a ``docker save`` archive without the layers the destination already has.

The gap it fills: community.docker.docker_image_export writes every layer of an image. A new frontend
version differs from the one a host runs only in its top layers (the site build), yet the whole image,
nginx base included (about 170 MB), was exported, copied and loaded per version. ``docker load`` reads a
layer's file only when the layer chain is not in the daemon's layer store already (moby
image/tarexport/load.go), so an archive that leaves those files out loads the same image.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_image_layers_export
short_description: Export an image as a docker save archive, leaving out the layers a destination has
description:
  - Streams C(GET /images/{name}/get) from the Docker daemon into O(path), dropping the layer files whose
    layer chain is already in the destination's layer store, as O(have_layers) describes it (the
    C(RootFS.Layers) lists of images on the destination, as community.docker.docker_image_info returns them).
  - The manifest, image config and every other member are kept, so C(docker load) on the destination
    restores the full image and its tags.
  - A layer is dropped only when its chain (its own and every lower layer, in order) is the prefix of
    an image the destination has; the same content on another base is shipped.
  - Layer files are recognised by content (sha256 of the uncompressed tar, the layer's diff ID): by name
    in the OCI layout Docker 25 and later write (C(blobs/sha256/<digest>)), by hashing the member in the
    older layout (C(<id>/layer.tar)). A compressed blob never matches and is always shipped.
options:
  name:
    description: The image to export, C(repository:tag).
    type: str
    required: true
  path:
    description: The archive to write (overwritten).
    type: path
    required: true
  have_layers:
    description:
      - The C(RootFS.Layers) (diff IDs, lowest first) of each image the destination has. Empty ships
        every layer, like community.docker.docker_image_export.
    type: list
    elements: list
    default: []
extends_documentation_fragment:
  - community.docker.docker.api_documentation
author: cloudsite
"""

RETURN = r"""
layers:
  description: The image's layer count.
  type: int
  returned: success
layers_shipped:
  description: How many layer files the archive holds.
  type: int
  returned: success
size:
  description: The archive's size in bytes.
  type: int
  returned: success
image_id:
  description: The exported image's ID.
  type: str
  returned: success
"""

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import traceback

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.community.docker.plugins.module_utils._api.constants import DEFAULT_DATA_CHUNK_SIZE
from ansible_collections.community.docker.plugins.module_utils.common_api import AnsibleDockerClient

_OCI_BLOB = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_LEGACY_LAYER = re.compile(r"^[0-9a-f]{64}/layer\.tar$")


def chain_ids(diff_ids):
    """The layer chain IDs of an image's diff IDs, lowest first (the OCI image spec's ChainID)."""
    chains, chain = [], None
    for diff_id in diff_ids:
        chain = diff_id if chain is None else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
        chains.append(chain)
    return chains


def droppable(image_layers, have_layers):
    """Diff IDs whose every occurrence in the image sits on a chain the destination already has."""
    have = {chain for layers in have_layers for chain in chain_ids(layers)}
    present, absent = set(), set()
    for diff_id, chain in zip(image_layers, chain_ids(image_layers), strict=True):
        (present if chain in have else absent).add(diff_id)
    return present - absent


class _ChunkReader:
    """A file object over the daemon's byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size=-1):
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def write_archive(source, path, layers, drop):
    """Copy the tar stream ``source`` to ``path`` without the layer files in ``drop`` (diff IDs); the
    number of layer files (of the diff IDs ``layers``) it holds."""
    shipped = 0
    with tarfile.open(fileobj=source, mode="r|") as src, tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in src:
            data = src.extractfile(member) if member.isfile() else None
            blob = _OCI_BLOB.match(member.name)
            if data is None or not (blob or _LEGACY_LAYER.match(member.name)):
                out.addfile(member, data)
                continue
            if blob:
                digest = f"sha256:{blob.group(1)}"
                if digest not in drop:
                    out.addfile(member, data)
                    shipped += digest in layers
                continue
            # Older layout: the name does not tell the content, so hash it on the way to a spool file.
            digest = hashlib.sha256()
            with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
                for block in iter(lambda data=data: data.read(1 << 20), b""):
                    digest.update(block)
                    spool.write(block)
                if f"sha256:{digest.hexdigest()}" not in drop:
                    spool.seek(0)
                    out.addfile(member, spool)
                    shipped += 1
    return shipped


def main():
    client = AnsibleDockerClient(
        argument_spec=dict(
            name=dict(type="str", required=True),
            path=dict(type="path", required=True),
            have_layers=dict(type="list", elements="list", default=[]),
        ),
        supports_check_mode=True,
    )
    module = client.module
    name, path = module.params["name"], module.params["path"]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    image = client.find_image(name=repository, tag=tag)
    if not image:
        module.fail_json(msg=f"image {name} not found on the controller")
    layers = image["RootFS"]["Layers"]
    drop = droppable(layers, [[str(d) for d in have] for have in module.params["have_layers"]])
    result = dict(
        changed=True, image_id=image["Id"], layers=len(layers), layers_shipped=len(layers) - len(drop), size=0
    )
    if module.check_mode:
        module.exit_json(**result)
    partial = f"{path}.part"
    try:
        chunks = client._stream_raw_result(
            client._get(client._url("/images/{0}/get", name), stream=True), DEFAULT_DATA_CHUNK_SIZE, False
        )
        result["layers_shipped"] = write_archive(_ChunkReader(chunks), partial, set(layers), drop)
        shutil.move(partial, path)
    except Exception as exc:  # any failure leaves no partial archive and says why
        if os.path.exists(partial):
            os.unlink(partial)
        module.fail_json(msg=f"exporting {name} to {path} failed: {to_native(exc)}", exception=traceback.format_exc())
    result["size"] = os.path.getsize(path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
