"""The frontend's delta archive (roles/frontend/library/docker_image_layers_export.py, issue 14.8).

A layer file is left out only when its whole chain is on the destination; everything else (manifest,
config, index, layers of another chain, compressed blobs) travels. Both archive layouts: the OCI one
Docker 25+ writes (blobs/sha256/<diff id>) and the older one (<id>/layer.tar, recognised by content).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import tarfile

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location(
    "docker_image_layers_export", ROOT / "roles" / "frontend" / "library" / "docker_image_layers_export.py"
)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)


def layer(content: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(content).hexdigest(), content


BASE, CONF, SITE_1, SITE_2, EMPTY = (
    layer(c) for c in (b"base" * 1000, b"conf", b"site one", b"site two", b"\0" * 1024)
)


def archive(layers: list[tuple[str, bytes]], oci: bool = True) -> bytes:
    """A docker-save-like tar: a config, a manifest and the layer files, in either layout."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        paths = []
        for i, (diff_id, content) in enumerate(layers):
            path = f"blobs/sha256/{diff_id[7:]}" if oci else f"{i:064x}/layer.tar"
            if path not in paths:
                add(path, content)
            paths.append(path)
        config = json.dumps({"rootfs": {"diff_ids": [d for d, _ in layers]}}).encode()
        add("blobs/sha256/" + hashlib.sha256(config).hexdigest() if oci else "config.json", config)
        add("manifest.json", json.dumps([{"Layers": paths}]).encode())
    return buffer.getvalue()


def members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def export(tmp_path, layers, have, oci=True):
    drop = mod.droppable([d for d, _ in layers], have)
    out = tmp_path / "out.tar"
    shipped = mod.write_archive(io.BytesIO(archive(layers, oci)), str(out), {d for d, _ in layers}, drop)
    return shipped, members(out.read_bytes()), out


def test_chain_ids_follow_the_oci_image_spec():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert mod.chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


@pytest.mark.parametrize("oci", [True, False], ids=["oci layout", "older layout"])
def test_a_new_site_build_ships_only_its_site_layer(tmp_path, oci):
    shipped, names, out = export(tmp_path, [BASE, CONF, SITE_2], [[BASE[0], CONF[0], SITE_1[0]]], oci)
    assert shipped == 1
    assert "manifest.json" in names
    if oci:
        assert f"blobs/sha256/{SITE_2[0][7:]}" in names and f"blobs/sha256/{BASE[0][7:]}" not in names
    with tarfile.open(out) as tar:
        bodies = [
            tar.extractfile(m).read()
            for m in tar.getmembers()
            if m.name.endswith(("layer.tar",)) or m.name.startswith("blobs/")
        ]
    assert SITE_2[1] in bodies and BASE[1] not in bodies and CONF[1] not in bodies


def test_an_empty_destination_gets_every_layer(tmp_path):
    shipped, _, _ = export(tmp_path, [BASE, CONF, SITE_1], [])
    assert shipped == 3


def test_the_same_layer_on_another_base_travels(tmp_path):
    """CONF is on the host, but on another chain: docker load would look for its chain and not find it."""
    other_base = layer(b"another base")
    shipped, _, _ = export(tmp_path, [BASE, CONF, SITE_1], [[other_base[0], CONF[0]]])
    assert shipped == 3


def test_a_layer_repeated_higher_up_travels_when_one_of_its_chains_is_missing(tmp_path):
    """Two empty layers (two RUNs that change nothing) share one diff id and one blob: the lower one is on
    the host, the upper one's chain is not, so the blob must travel."""
    assert mod.droppable([BASE[0], EMPTY[0], SITE_2[0], EMPTY[0]], [[BASE[0], EMPTY[0], SITE_1[0], EMPTY[0]]]) == {
        BASE[0]
    }
