"""The CI/CD pipelines users copy (.github/workflows/ci.yml, .gitlab-ci.yml) cannot rot silently.

Both files are parsed; every job must call the same make targets and playbooks (same inventory, same
order) in both, those targets must exist in the Makefile, the playbooks in the repository, and the
documentation (README.md together with docs/operations.md, which the README absorbs) must name them.
GitHub: actions pinned by full commit SHA, OIDC only, vault password from a secret. GitLab: the image
built from ci/Dockerfile with the pinned requirements, OIDC through id_tokens.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github" / "workflows" / "ci.yml"
GITLAB = ROOT / ".gitlab-ci.yml"
DOCKERFILE = ROOT / "ci" / "Dockerfile"
JOBS = ["lint", "pytest", "molecule", "deploy-test", "deploy-production", "drift"]
CHECKS = {"lint", "pytest", "molecule"}
DEPLOYS = {"deploy-test": "test", "deploy-production": "production"}
SECTIONS = ["Deploy to your AWS account", "CI/CD", "Teardown", "Rollback"]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def invocations(commands: list[str]) -> list[tuple[str, ...]]:
    """The make targets and playbook runs in shell commands: ('make', target) / ('playbook', inventory, path)."""
    found: list[tuple[str, ...]] = []
    for command in commands:
        for line in command.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if words[0] == "make":
                found += [("make", w) for w in words[1:] if not w.startswith("-") and "=" not in w]
            elif Path(words[0]).name == "ansible-playbook":
                inventory = words[words.index("-i") + 1] if "-i" in words else ""
                found += [("playbook", inventory, w) for w in words[1:] if w.endswith((".yml", ".yaml"))]
    return found


def github_jobs(workflow: dict) -> dict[str, list[tuple[str, ...]]]:
    return {
        name: invocations([step["run"] for step in job.get("steps", []) if "run" in step])
        for name, job in workflow["jobs"].items()
    }


def gitlab_jobs(pipeline: dict) -> dict[str, list[tuple[str, ...]]]:
    return {
        name: invocations(job.get("script", []))
        for name, job in pipeline.items()
        if isinstance(job, dict) and "stage" in job and not name.startswith(".")
    }


def differences(github: dict, gitlab: dict) -> list[str]:
    problems = []
    for job in JOBS:
        if job not in github or job not in gitlab:
            problems.append(f"job {job}: missing in {'GitHub' if job not in github else 'GitLab'}")
        elif github[job] != gitlab[job]:
            problems.append(f"job {job}: GitHub runs {github[job]}, GitLab runs {gitlab[job]}")
    return problems


@pytest.fixture(scope="module")
def workflow() -> dict:
    return load(GITHUB)


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return load(GITLAB)


@pytest.fixture(scope="module")
def docs() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "README.md", ROOT / "docs" / "operations.md") if p.exists())


def test_both_pipelines_run_the_same_targets_and_playbooks_per_job(workflow, pipeline):
    github, gitlab = github_jobs(workflow), gitlab_jobs(pipeline)
    assert differences(github, gitlab) == []
    for job in CHECKS:
        assert github[job] == [("make", job)]
    for job, env in DEPLOYS.items():
        assert github[job] == [
            ("playbook", f"inventories/{env}", "site.yml"),
            ("playbook", f"inventories/{env}", "playbooks/smoke.yml"),
        ]


def test_the_comparison_notices_a_drifted_job(workflow, pipeline):
    gitlab = gitlab_jobs(pipeline)
    gitlab["deploy-test"] = gitlab["deploy-test"][:1]  # the smoke test dropped on GitLab only
    assert differences(github_jobs(workflow), gitlab) == [
        "job deploy-test: GitHub runs [('playbook', 'inventories/test', 'site.yml'), "
        "('playbook', 'inventories/test', 'playbooks/smoke.yml')], "
        "GitLab runs [('playbook', 'inventories/test', 'site.yml')]"
    ]


def test_make_targets_and_playbooks_exist(workflow, pipeline):
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-zA-Z][\w-]*):", makefile, re.MULTILINE))
    calls = {c for jobs in (github_jobs(workflow), gitlab_jobs(pipeline)) for cs in jobs.values() for c in cs}
    assert {c[1] for c in calls if c[0] == "make"} <= targets
    playbooks = {c[2] for c in calls if c[0] == "playbook"}
    assert playbooks == {"site.yml", "playbooks/smoke.yml"}
    assert [p for p in playbooks if not (ROOT / p).is_file()] == []


def test_the_documentation_names_every_target_playbook_and_section(workflow, pipeline, docs):
    calls = {c for jobs in (github_jobs(workflow), gitlab_jobs(pipeline)) for cs in jobs.values() for c in cs}
    for call in calls:
        name = f"make {call[1]}" if call[0] == "make" else call[2]
        assert name in docs, f"{name} is run by the pipelines but not documented"
    for extra in ("playbooks/teardown.yml", "playbooks/rollback.yml", "confirm_teardown", "AWS_ROLE_ARN"):
        assert extra in docs
    headings = re.findall(r"^#+\s+(.+?)\s*$", docs, re.MULTILINE)
    assert [s for s in SECTIONS if s not in headings] == []


def test_github_runs_checks_on_pull_requests_and_deploys_main_in_order(workflow):
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads the bare key `on` as true
    assert set(triggers) == {"pull_request", "push", "schedule"}
    assert triggers["push"]["branches"] == ["main"]
    assert len(triggers["schedule"]) == 1
    jobs = workflow["jobs"]
    for job in CHECKS:
        assert "if" not in jobs[job]
    assert set(jobs["deploy-test"]["needs"]) == CHECKS
    assert jobs["deploy-production"]["needs"] == ["deploy-test"]
    # The nightly drift report runs on the schedule only, against production, read-only.
    assert jobs["drift"]["if"] == "github.event_name == 'schedule'"
    # Its own environment: production's required reviewers would hold a nightly job forever.
    assert jobs["drift"]["environment"] == "production-drift"
    for job, env in DEPLOYS.items():
        assert jobs[job]["environment"] == env
        assert "github.event_name == 'push'" in jobs[job]["if"]
        assert "github.ref == 'refs/heads/main'" in jobs[job]["if"]


def test_github_uses_oidc_a_vault_secret_and_pinned_actions(workflow):
    text = GITHUB.read_text()
    assert not re.search(r"aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY", text, re.IGNORECASE)
    assert workflow["permissions"] == {"contents": "read"}
    for job in [*DEPLOYS, "drift"]:
        steps = workflow["jobs"][job]["steps"]
        assert workflow["jobs"][job]["permissions"]["id-token"] == "write"
        aws = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
        assert len(aws) == 1
        assert aws[0]["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
        secrets_step = next(s for s in steps if "ANSIBLE_VAULT_PASSWORD_FILE" in s.get("run", ""))
        assert secrets_step["env"]["VAULT_PASSWORD"] == "${{ secrets.ANSIBLE_VAULT_PASSWORD }}"
        assert "umask 077" in secrets_step["run"]
        # The vault password is used before anything reads it: written before the first playbook.
        first_playbook = next(
            i for i, s in enumerate(steps) if "ansible-playbook" in s.get("run", "") or "make " in s.get("run", "")
        )
        assert steps.index(secrets_step) < first_playbook
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", text, re.MULTILINE)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{ref} is not pinned by commit SHA"
        assert re.fullmatch(r"\s*#\s*v\d+\.\d+\.\d+", comment), f"{ref} has no '# vX.Y.Z' comment"


def test_gitlab_runs_checks_on_merge_requests_and_deploys_the_default_branch_in_order(pipeline):
    stages = pipeline["stages"]
    order = [pipeline[job]["stage"] for job in JOBS]
    assert [stages.index(s) for s in order] == sorted(stages.index(s) for s in order)
    assert stages.index("image") < min(stages.index(s) for s in order)
    assert "rules" not in pipeline[".deploy"]
    assert pipeline["deploy-test"]["rules"] == [
        {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "schedule"'}
    ]
    assert pipeline["drift"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert pipeline["drift"]["environment"] == {"name": "production", "action": "verify"}
    for job, env in DEPLOYS.items():
        assert ".deploy" in pipeline[job]["extends"]
        assert pipeline[job]["environment"]["name"] == env
    assert pipeline[".deploy"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in "\n".join(pipeline[".deploy"]["before_script"])
    assert not re.search(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID", GITLAB.read_text())


def test_gitlab_image_is_built_from_the_pinned_requirements(pipeline):
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11[\w.-]*@sha256:[0-9a-f]{64}$", dockerfile, re.MULTILINE)
    assert "-r /tmp/cloudsite/requirements.txt -c /tmp/cloudsite/constraints.txt" in dockerfile
    assert "COPY requirements.txt constraints.txt" in dockerfile
    assert "-f ci/Dockerfile" in "\n".join(pipeline["build-ci-image"]["script"])
    for job in JOBS:
        extends = pipeline[job]["extends"]
        extends = [extends] if isinstance(extends, str) else extends
        assert ".ci-image" in extends or ".deploy" in extends
    assert pipeline[".ci-image"]["image"] == "$CI_IMAGE_DIGEST"


@pytest.mark.parametrize(
    ("path", "schema"),
    [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")],
    ids=["github", "gitlab"],
)
def test_pipeline_matches_its_platform_schema(path, schema):
    """Each file against its platform's published schema (vendored in check-jsonschema, so it runs offline).

    It replaces a skipped actionlint run (actionlint's PyPI package downloads a binary) and caught a job
    named `image`, a reserved GitLab keyword."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Issue 13 points 9-11: test credentials cannot reach production, nothing is installed next to the
# secrets, GitLab deploys by digest.
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def test_github_environments_are_documented_as_main_only_with_production_approval(workflow, docs):
    for job, env in DEPLOYS.items():
        assert workflow["jobs"][job]["environment"] == env
    assert "Selected branches → `main`" in docs
    assert "required reviewers" in docs
    assert "sub = repo:<owner>/<repo>:environment:<env>" in docs
    assert "one AWS account per environment" in docs.replace("One AWS account", "one AWS account")


def test_github_deploys_install_hash_checked_packages_before_any_credential(workflow):
    for job in DEPLOYS:
        steps = workflow["jobs"][job]["steps"]
        install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
        assert "--require-hashes" in steps[install]["run"] and "ci/requirements-deploy.txt" in steps[install]["run"]
        assert "bootstrap.sh" not in "\n".join(s.get("run", "") for s in steps)
        aws = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("aws-actions/"))
        secrets = next(i for i, s in enumerate(steps) if "secrets." in str(s.get("env", {})))
        assert install < aws < secrets, f"{job}: install {install}, role {aws}, secrets {secrets}"
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_the_deploy_lock_pins_every_package_with_a_hash_matching_the_constraints():
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            constraints[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    entries = re.findall(
        r"^([A-Za-z0-9_.-]+)==(\S+) \\\n\s+--hash=sha256:([0-9a-f]{64})$",
        (ROOT / "ci" / "requirements-deploy.txt").read_text(),
        re.MULTILINE,
    )
    names = {re.sub(r"[-_.]+", "-", n.lower()): v for n, v, _ in entries}
    assert {"ansible", "ansible-core", "boto3", "botocore", "aws-sam-translator"} <= names.keys()
    assert {n: v for n, v in names.items() if constraints.get(n) != v} == {}


def test_gitlab_production_needs_a_protected_tag_a_manual_start_and_distinct_trust(pipeline, docs):
    prod = pipeline["deploy-production"]
    assert prod["rules"] == [{"if": "$CI_COMMIT_TAG =~ /^release-/", "when": "manual"}]
    assert prod["allow_failure"] is False
    assert "schedule" in pipeline["deploy-test"]["rules"][0]["if"]
    assert "ref_type:branch:ref:main" in docs and "ref_type:tag:ref:release-*" in docs
    assert "required approval" in docs


def test_gitlab_jobs_run_the_image_by_digest_and_merge_requests_push_elsewhere(pipeline):
    image = pipeline["build-ci-image"]
    script = "\n".join(image["script"])
    assert image["artifacts"]["reports"]["dotenv"] == "ci-image.env"
    assert "RepoDigests" in script and "CI_IMAGE_DIGEST=" in script
    assert ":latest" not in GITLAB.read_text()
    assert pipeline["variables"]["CI_IMAGE_MR_REPO"] != pipeline["variables"]["CI_IMAGE_REPO"]
    assert pipeline[".ci-image"]["image"] == "$CI_IMAGE_DIGEST"
    assert DIGEST.search(pipeline["variables"]["DOCKER_IMAGE"]) and image["image"] == "$DOCKER_IMAGE"
    assert DIGEST.search(pipeline["variables"]["DIND_IMAGE"])
    assert pipeline[".docker-service"]["services"][0]["name"] == "$DIND_IMAGE"


def test_the_docs_say_how_the_ssh_key_is_protected_not_that_it_is_masked(docs):
    header = " ".join(line.lstrip("# ") for line in GITLAB.read_text().split("stages:", 1)[0].splitlines())
    # Before: "the masked, protected file variables ANSIBLE_VAULT_PASSWORD_FILE and SSH_PRIVATE_KEY_FILE".
    assert not re.search(r"masked[^.;]* and SSH_PRIVATE_KEY_FILE", header)
    assert "cannot be masked" in header
    assert "GitLab cannot mask a multi-line value" in docs
