"""group_vars/all.yml's names map is the one place a resource name is derived (issue 14.2).

The inventories cannot read it: an inventory plugin is parsed before any group_vars exist, and amazon.aws'
aws_ec2 templates its ``filters`` with no variables but lookups. So they keep the tag filter as a literal
and these tests hold the literal equal to the map, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NAMES = yaml.safe_load((ROOT / "group_vars/all.yml").read_text())["cloudsite_names"]
INVENTORIES = [
    "inventories/production/aws_ec2.yml",
    "inventories/test/aws_ec2.yml",
    "inventories/local/standins.yml",
]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_each_inventory_filters_on_the_tags_of_the_names_map(inventory):
    filters = yaml.safe_load((ROOT / inventory).read_text())["filters"]
    ((role_key, role_value),) = NAMES["web_tag"].items()
    assert filters["tag-key"] == NAMES["project_tag_key"]
    assert filters[f"tag:{role_key}"] == role_value


def test_make_init_writes_an_inventory_with_the_tags_of_the_names_map():
    source = (ROOT / "tools/init_env.py").read_text()
    ((role_key, role_value),) = NAMES["web_tag"].items()
    assert f"tag:{role_key}: {role_value}\n" in source
    assert f"tag-key: {NAMES['project_tag_key']}\n" in source


def _sources() -> list[Path]:
    paths = [ROOT / "site.yml"]
    for top in ("roles", "playbooks", "iam", "inventories", "molecule"):
        paths += [p for p in (ROOT / top).rglob("*") if p.suffix in {".yml", ".yaml", ".j2"}]
    return paths


def test_no_role_or_playbook_re_derives_a_name_from_project_name():
    # '{{ project_name }}-alb', project_name ~ '-backend-', ...: every such name is an entry of the map.
    derived = re.compile(r"project_name\s*}}(?:[-.\w]| site\b)|project_name\s*~\s*'")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if derived.search(line)
    ]
    assert found == []


def test_every_name_read_from_the_map_is_in_it():
    used = {m for path in _sources() for m in re.findall(r"cloudsite_names\.(\w+)", path.read_text())}
    assert used, "nothing reads the names map"
    assert sorted(used - set(NAMES)) == []


def test_the_map_derives_every_name_from_project_name_or_a_bucket_input():
    for key, value in NAMES.items():
        if key in {"project_tag_key", "web_tag"}:
            continue
        assert re.search(r"{{ (project_name|site_bucket_name|artifacts_bucket_name) }}", value), key
