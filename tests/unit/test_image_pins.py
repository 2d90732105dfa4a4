"""Issue 13 point 5: the frontend base is a maintained nginx release pinned by digest, in one place the
build reads, and a bot proposes the next digest (Dependabot on GitHub, Renovate on GitLab)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "app" / "frontend" / "Dockerfile"


def test_the_frontend_base_is_a_maintained_nginx_pinned_by_digest():
    text = DOCKERFILE.read_text()
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    match = re.fullmatch(r"nginx:(\d+)\.(\d+)\.\d+(?:-bookworm)?@sha256:[0-9a-f]{64}", default)
    assert match, f"{default} is not nginx:<x.y.z>@sha256:<digest>"
    # 1.27 (mainline) is no longer rebuilt; 1.28 is the stable line, later lines are newer.
    assert (int(match[1]), int(match[2])) >= (1, 28)
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert froms == ["${BASE_IMAGE}"], "the build must read the base from the one pinned argument"


def test_dependabot_and_renovate_watch_the_pinned_images():
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u for u in dependabot["updates"]}
    assert {"docker", "pip", "github-actions"} <= ecosystems.keys()
    assert {"/app/frontend", "/ci"} <= set(ecosystems["docker"]["directories"])
    renovate = json.loads((ROOT / "renovate.json").read_text())
    assert "docker:pinDigests" in renovate["extends"]
    assert {"dockerfile", "gitlabci"} <= set(renovate["enabledManagers"])
