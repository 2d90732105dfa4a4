"""The project's modules as the collection cloudsite.aws: it builds, the artifact installs elsewhere and
documents every module there, and its action group holds every AWS module (one module_defaults entry)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, COLLECTION, ROOT

MODULES = sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py"))


def clean_env(**extra: str) -> dict[str, str]:
    """An environment that knows nothing of this repository: no ansible.cfg, no collections path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return env | {"ANSIBLE_NOCOLOR": "1"} | extra


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The collection built into one directory and installed from that artifact into another."""
    build = tmp_path_factory.mktemp("build")
    install = tmp_path_factory.mktemp("install")
    env = clean_env()
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", str(COLLECTION), "--output-path", str(build)],
        cwd=build,
        env=env,
        check=True,
        capture_output=True,
    )
    version = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())["version"]
    artifact = build / f"cloudsite-aws-{version}.tar.gz"
    assert artifact.is_file(), sorted(build.iterdir())
    # --no-deps: offline; amazon.aws and community.aws come with the ansible package on sys.path.
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "install", str(artifact), "-p", str(install), "--no-deps"],
        cwd=build,
        env=env,
        check=True,
        capture_output=True,
    )
    return install


def test_the_installed_artifact_documents_s3_site_sync(installed):
    out = subprocess.run(
        [BIN / "ansible-doc", "-t", "module", "cloudsite.aws.s3_site_sync"],
        cwd=installed,
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed)),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    # Read from the installed copy, not the repository's.
    assert str(installed / "ansible_collections" / "cloudsite" / "aws") in out.stdout
    assert "Uploads new and changed files of" in " ".join(out.stdout.split())  # the description
    for option in ("bucket", "src", "delete", "manifest_key"):
        assert re.search(rf"^[=-] {option} ", out.stdout, re.M), option  # = required, - optional
    assert "cloudsite.aws.s3_site_sync:" in out.stdout  # EXAMPLES use the FQCN


def test_every_module_documents_itself(installed):
    """DOCUMENTATION/EXAMPLES/RETURN parse for each module (a ": " in a plain description line broke seven)."""
    out = subprocess.run(
        [BIN / "ansible-doc", "-t", "module", *(f"cloudsite.aws.{name}" for name in MODULES)],
        cwd=installed,
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed)),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "ERROR" not in out.stderr and "WARNING" not in out.stderr, out.stderr
    assert sorted(re.findall(r"^> MODULE cloudsite\.aws\.(\S+)", out.stdout, re.M)) == MODULES


def test_the_documented_filter_documents_itself(installed):
    out = subprocess.run(
        [BIN / "ansible-doc", "-t", "filter", "cloudsite.aws.aws_known_regions"],
        cwd=installed,
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed)),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "ERROR" not in out.stderr, out.stderr
    assert "botocore" in out.stdout


def test_ansible_doc_lists_every_module_of_the_collection(installed):
    out = subprocess.run(
        [BIN / "ansible-doc", "--list", "cloudsite.aws"],
        cwd=installed,
        env=clean_env(ANSIBLE_COLLECTIONS_PATH=str(installed)),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    listed = sorted(re.findall(r"^cloudsite\.aws\.(\S+)", out.stdout, re.M))
    assert len(MODULES) >= 21
    assert listed == MODULES


def test_the_action_group_extends_the_aws_groups_and_holds_every_aws_module():
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    group = runtime["action_groups"]["aws"]
    metadata = [item["metadata"] for item in group if isinstance(item, dict)]
    assert metadata == [{"extend_group": ["amazon.aws.aws", "community.aws.aws"]}]
    members = sorted(item for item in group if isinstance(item, str))
    # Every module built on AnsibleAWSModule takes the connection options the group's defaults carry;
    # the others (no AWS call) would reject them.
    aws_modules = sorted(
        name
        for name in MODULES
        if "AnsibleAWSModule(" in (COLLECTION / "plugins" / "modules" / f"{name}.py").read_text()
    )
    assert members == aws_modules
    assert set(MODULES) - set(members) == {"sam_package", "sam_transform"}


def test_galaxy_dependencies_start_at_the_pinned_versions():
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    pinned = {c["name"]: c["version"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    assert set(galaxy["dependencies"]) == {"amazon.aws", "community.aws"}
    for name, spec in galaxy["dependencies"].items():
        assert spec.startswith(f">={pinned[name]},"), (name, spec, pinned[name])
