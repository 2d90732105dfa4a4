"""Deterministic packaging of SAM function code (collections/ansible_collections/cloudsite/aws/plugins/module_utils/sam_artifacts.py)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from ansible_collections.cloudsite.aws.plugins.module_utils import (
    sam_artifacts as sam_package,  # the module_util (the module sam_package wraps it)
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "sam"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_zip_is_byte_identical_regardless_of_mtime_mode_and_creation_order(tmp_path):
    a = _tree(tmp_path / "a", {"app.py": "x = 1\n", "lib/util.py": "y = 2\n"})
    b = _tree(tmp_path / "b", {"lib/util.py": "y = 2\n", "app.py": "x = 1\n"})
    os.utime(b / "app.py", (1_000_000, 1_000_000))
    os.chmod(b / "lib" / "util.py", 0o600)
    assert sam_package.deterministic_zip(str(a)) == sam_package.deterministic_zip(str(b))


def test_zip_changes_with_content_and_key_follows_the_hash(tmp_path):
    src = _tree(tmp_path / "src", {"app.py": "x = 1\n"})
    first = sam_package.deterministic_zip(str(src))
    (src / "app.py").write_text("x = 2\n")
    second = sam_package.deterministic_zip(str(src))
    assert first != second
    assert sam_package.artifact_key(first, "backend/") != sam_package.artifact_key(second, "backend/")
    assert sam_package.artifact_key(first, "backend/").startswith("backend/")
    assert sam_package.artifact_key(first).endswith(".zip")


def test_zip_entries_are_sorted_with_fixed_timestamp_and_mode_and_no_caches(tmp_path):
    src = _tree(tmp_path / "src", {"b.py": "b", "a.py": "a", "__pycache__/a.cpython-311.pyc": "junk", "c.pyc": "junk"})
    with zipfile.ZipFile(io.BytesIO(sam_package.deterministic_zip(str(src)))) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a.py", "b.py"]
    assert {i.date_time for i in infos} == {sam_package.ZIP_EPOCH}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}


def test_empty_directory_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no files"):
        sam_package.deterministic_zip(str(tmp_path / "empty"))


def test_template_loader_understands_short_intrinsics():
    template = sam_package.load_template(
        "A: !Ref X\nB: !GetAtt Table.Arn\nC: !Sub 'a-${X}'\nD: !Join ['-', [a, !Ref Y]]\n"
    )
    assert template == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Table", "Arn"]},
        "C": {"Fn::Sub": "a-${X}"},
        "D": {"Fn::Join": ["-", ["a", {"Ref": "Y"}]]},
    }


def test_local_code_uris_and_rewrite_leave_the_source_untouched():
    template = sam_package.load_template((FIXTURE / "template.yaml").read_text())
    uris = sam_package.local_code_uris(template)
    assert uris == {"ContactFunction": "src/contact/", "CounterFunction": "src/counter/"}
    rewritten = sam_package.rewrite_code_uris(template, {k: f"s3://b/{k}.zip" for k in uris})
    assert rewritten["Resources"]["CounterFunction"]["Properties"]["CodeUri"] == "s3://b/CounterFunction.zip"
    assert template["Resources"]["CounterFunction"]["Properties"]["CodeUri"] == "src/counter/"
    assert sam_package.local_code_uris(rewritten) == {}
