"""A new environment from `make init` to teardown, against a private recording emulator, and the IAM policy.

One run, shared by every test here (module-scoped, it is the expensive part): `make init ENV=<name>`
(account id read with STS), the generated inventory with only its AWS access swapped for the rehearsal
(aws_ec2.yml → the stand-in plugin, endpoint and test credentials in one extra group_vars file), then
`make deploy`, `make deploy` again with a changed site, `make rollback`, `make teardown`. The emulator
records every AWS API operation the deploying principal calls (local/moto_server.py,
CLOUDSITE_RECORD_ACTIONS); the tests then check each against iam/deploy-policy.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import jinja2
import pytest
import yaml

from local import envctl
from tests.conftest import RECAP, ROOT, ansible_env, free_port, start_moto
from tests.iam_actions import iam_actions
from tools.paths import OUTPUT_ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.slow, pytest.mark.docker]

POLICY = ROOT / "iam" / "deploy-policy.json.j2"
# playbooks/bootstrap-iam.yml attaches all three to the deploy role: the deploy's drift repair
# (sam_backend) runs DetectStackDrift, granted by the drift policy (the deploy policy is at IAM's size
# limit); the third covers the web Auto Scaling group (web_host_mode asg; teardown always).
DRIFT_POLICY = ROOT / "iam" / "drift-policy.json.j2"
HOST_POLICY = ROOT / "iam" / "deploy-host-policy.json.j2"
TIMINGS: dict[str, float] = {}
DOMAIN = "cloudsite-rehearsal.test"
INIT_ARGS = ["--contact-sender", "site@cloudsite.test", "--contact-recipient", "owner@cloudsite.test"]
INIT_ARGS += ["--ssh-cidr", "203.0.113.7/32"]


def _rehearsal_overlay(inventory: Path, env: str, project: str, moto_url: str) -> None:
    """Swap only how AWS is reached: stand-ins for aws_ec2, the emulator's endpoint and test credentials."""
    # The generated aws_ec2.yml is the production shape (every region, any project); the host plays
    # select by project_name and aws_region, so the stand-ins take the same broad filter.
    real = yaml.safe_load((inventory / "aws_ec2.yml").read_text())
    assert real["filters"] == {"tag:role": "web", "tag-key": "project", "instance-state-name": "running"}
    assert {"ec2_region", "ec2_tags"} <= set(real["compose"])
    settings = yaml.safe_load((inventory / "group_vars" / env / "vars.yml").read_text())
    assert settings["project_name"] == project
    (inventory / "aws_ec2.yml").unlink()
    (inventory / "standins.yml").write_text(
        yaml.safe_dump(
            {
                "plugin": "cloudsite_standins",
                "endpoint_url": moto_url,
                "group": "web",
                "filters": {"tag:role": "web", "tag-key": "project"},
            }
        )
    )
    local = yaml.safe_load((ROOT / "inventories/local/group_vars/local.yml").read_text())
    overlay = {k: local[k] for k in ("aws_endpoint_url", "aws_access_key", "aws_secret_key", "docker_install_source")}
    overlay |= {
        k: local[k] for k in ("frontend_build_base_image", "smoke_site_urls_default", "sam_backend_api_base_url")
    }
    # The rehearsal's bake (10 s a slot, as `make demo`), not production's 60 s: the roll is the same, and
    # the three rolls of this test would otherwise spend six minutes watching healthy slots.
    overlay["frontend_bake_seconds"] = local["frontend_bake_seconds"]
    # The stand-ins are reached over the Docker bridge, not through the security group.
    overlay["guard_ssh_access"] = False
    (inventory / "group_vars" / env / "rehearsal.yml").write_text("---\n" + yaml.safe_dump(overlay))


def _make(label: str, env_vars: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    start = time.monotonic()
    proc = subprocess.run(["make", *args], cwd=ROOT, env=env_vars, capture_output=True, text=True, timeout=1500)
    TIMINGS[label] = round(time.monotonic() - start, 1)
    return proc


@pytest.fixture(scope="module")
def real_env(tmp_path_factory, docker_engine):
    """Run the whole life of a `make init` environment once; yield what it produced."""
    tmp = tmp_path_factory.mktemp("real_env")
    record = tmp / "actions.jsonl"
    port = free_port()
    moto_url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLOUDSITE_RECORD_ACTIONS", str(record))
        moto = start_moto(port, log_path=tmp / "moto.log")
    env_name = f"rh_{uuid.uuid4().hex[:4]}"
    project = f"cloudsite-{env_name.replace('_', '-')}"
    inventory = ROOT / "inventories" / env_name
    env_vars = ansible_env(moto_url) | {
        "CLOUDSITE_HOME": str(tmp / "home"),
        "LOCAL_API_PORT": str(free_port()),
    }
    runs: dict[str, subprocess.CompletedProcess] = {}
    try:
        init_env = env_vars | {"AWS_ENDPOINT_URL": moto_url, "AWS_DEFAULT_REGION": "us-east-1"}
        # A custom domain, so the certificate and DNS records (with their ownership) are covered too.
        route53 = boto3.client(
            "route53", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        zone = route53.create_hosted_zone(Name=DOMAIN, CallerReference=env_name)["HostedZone"]["Id"].split("/")[-1]
        runs["init"] = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.init_env",
                env_name,
                *INIT_ARGS,
                "--domain-name",
                DOMAIN,
                *("--hosted-zone-id", zone),
            ],
            cwd=ROOT,
            env=init_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        assert runs["init"].returncode == 0, runs["init"].stderr
        _rehearsal_overlay(inventory, env_name, project, moto_url)
        record.write_text("")  # from here on: the deploying principal only
        runs["deploy"] = _make("deploy", env_vars, "deploy", f"ENV={env_name}")
        served: dict[str, dict] = {}
        if runs["deploy"].returncode == 0:
            served["build 1"] = _served(moto_url, f"{project}-site-123456789012")
            # An archive of a version no host records any more (as an old deploy leaves): the next roll prunes it.
            stale = OUTPUT_ROOT / "images" / "cloudsite_frontend-0stale.tar"
            stale.parent.mkdir(parents=True, exist_ok=True)
            stale.write_bytes(b"")
            # Builds 2 and 3: the whole deploy, then the "change the site" recipe (containers and S3 only;
            # no bake: the deploy and update above bake, this build only has to exist for the rollback).
            for label, marker, extra in (
                ("update", "v2", ""),
                ("update 3", "v3", " --tags frontend,static -e frontend_bake_seconds=0"),
            ):
                site = tmp / f"site-{marker}"
                shutil.copytree(ROOT / "app" / "site", site)
                index = site / "index.html"
                index.write_text(index.read_text().replace("</body>", f"<!-- {marker} -->\n</body>"))
                runs[label] = _make(
                    label, env_vars, "deploy", f"ENV={env_name}", f"ANSIBLE_ARGS=-e site_source_dir={site}{extra}"
                )
            served["build 3"] = _served(moto_url, f"{project}-site-123456789012")
            archives = sorted(p.name for p in stale.parent.glob("cloudsite_frontend-*.tar"))
            # Beyond the recorded history: one line, nothing changed. Then two builds back, both parts.
            runs["rollback too far"] = _make("rollback too far", env_vars, "rollback", f"ENV={env_name}", "STEPS=3")
            served["after refused rollback"] = _served(moto_url, f"{project}-site-123456789012")
            # A version each host records last, with its image on the controller: the rollback puts build 1
            # in front, the history (release_history_depth + 1 entries) drops it, and the roll removes its
            # image from the controller too.
            stale_image = f"cloudsite/frontend:0stale-{env_name.replace('_', '-')}"
            subprocess.run(["docker", "tag", "cloudsite/debian:bookworm", stale_image], check=True)
            _record_stale_version(moto_url, stale_image.split(":")[1])
            runs["rollback"] = _make("rollback", env_vars, "rollback", f"ENV={env_name}", "STEPS=2")
            listed = subprocess.run(["docker", "images", "-q", stale_image], capture_output=True, text=True)
            stale_image_left = bool(listed.stdout.strip())
            served["after rollback"] = _served(moto_url, f"{project}-site-123456789012")
        runs["teardown"] = _make("teardown", env_vars, "teardown", f"ENV={env_name}", f"CONFIRM={project}")
        left = [
            f"{r['Type']} {r['Name']}"
            for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if r["Type"] not in ("NS", "SOA")
        ]
        yield {
            "runs": runs,
            "archives": locals().get("archives", []),
            "stale_image_left": locals().get("stale_image_left"),
            "served": served,
            "records_left": left,
            "actions": [json.loads(line) for line in record.read_text().splitlines() if line],
            "project": project,
            "policy_vars": {
                "project_name": project,
                "account_id": "123456789012",  # moto's, which make init read with STS
                "aws_region": "us-east-1",
                "site_bucket_name": f"{project}-site-123456789012",
                "artifacts_bucket_name": f"{project}-artifacts-123456789012",
            },
            "moto_url": moto_url,
        }
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        envctl.remove_standins(moto_url)
        shutil.rmtree(inventory, ignore_errors=True)
        print(f"\nreal-environment timings (s): {TIMINGS}")


def _standins(moto_url: str) -> list[str]:
    label = ["--filter", f"label=cloudsite.endpoint={moto_url}", "--filter", "label=cloudsite.standin"]
    return subprocess.run(["docker", "ps", "-q", *label], capture_output=True, text=True).stdout.split()


def _record_stale_version(moto_url: str, version: str) -> None:
    """Append ``version`` as the oldest entry of each web host's recorded history (roles/frontend state)."""
    script = (
        "import json, sys; p = '/var/lib/cloudsite-frontend/state.json'; s = json.load(open(p)); "
        "s['history'].append(sys.argv[1]); json.dump(s, open(p, 'w'))"
    )
    for name in _standins(moto_url):
        subprocess.run(["docker", "exec", name, "python3", "-c", script, version], check=True, capture_output=True)


def _served(moto_url: str, bucket: str) -> dict:
    """The build hash each frontend container and the site bucket serve (version.json)."""
    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    found = {"s3": json.loads(s3.get_object(Bucket=bucket, Key="version.json")["Body"].read())["hash"]}
    for name in _standins(moto_url):
        inspect = ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name]
        address = subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip()
        for port in (8081, 8082):
            with urllib.request.urlopen(f"http://{address}:{port}/version.json", timeout=10) as response:
                found[f"{address}:{port}"] = json.loads(response.read())["hash"]
    return found


def _ok(proc: subprocess.CompletedProcess) -> None:
    lines = proc.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith(("fatal:", "[ERROR]", "failed:"))]
    context = "\n".join(lines[failed[0] - 5 : failed[0] + 40]) if failed else proc.stdout[-4000:]
    assert proc.returncode == 0, context + proc.stderr[-2000:]
    assert RECAP.search(proc.stdout), proc.stdout[-3000:]


def test_a_make_init_environment_deploys_updates_rolls_back_and_tears_down(real_env):
    for step in ("deploy", "update", "update 3", "rollback", "teardown"):
        assert step in real_env["runs"], f"{step} did not run"
        _ok(real_env["runs"][step])
    # The deploy ran the guard with the placeholder checks on, against the generated values.
    assert "placeholders.yml" in real_env["runs"]["deploy"].stdout
    # Teardown removed every record the deploy wrote (aliases, ownership TXT, certificate validation).
    assert real_env["records_left"] == []


def _policy_statements(policy_vars: dict[str, str], policies: tuple[Path, ...] = (POLICY, HOST_POLICY)) -> list[dict]:
    """The deploy policies as bootstrap-iam.yml installs them for this environment (their Allow statements),
    with group_vars/all.yml's names map rendered for it, as the playbook renders them."""
    names = yaml.safe_load((ROOT / "group_vars" / "all.yml").read_text())["cloudsite_names"]
    policy_vars = policy_vars | {
        "cloudsite_names": {
            k: jinja2.Template(v).render(**policy_vars) if isinstance(v, str) else v for k, v in names.items()
        }
    }
    statements = []
    for path in policies:
        text = jinja2.Template(path.read_text(), undefined=jinja2.StrictUndefined).render(**policy_vars)
        statements += [s for s in json.loads(text)["Statement"] if s["Effect"] == "Allow"]
    return statements


def _allowed(action: str, statements: list[dict]) -> bool:
    def match(pattern: str) -> bool:
        return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), action, re.I) is not None

    listed = [s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for s in statements]
    return any(match(p) for actions in listed for p in actions)


def test_every_api_action_of_the_deploy_is_allowed_by_the_deploy_policy(real_env):
    called = sorted({a for entry in real_env["actions"] for a in iam_actions(entry)})
    assert called, "the emulator recorded nothing"
    statements = _policy_statements(real_env["policy_vars"], (POLICY, HOST_POLICY, DRIFT_POLICY))
    missing = [a for a in called if not _allowed(a, statements)]
    print(f"\n{len(called)} distinct IAM actions in deploy + update + rollback + teardown: {called}")
    assert not missing, f"called but not allowed by {POLICY.name}, {HOST_POLICY.name} or {DRIFT_POLICY.name}: {missing}"


def test_the_deploy_policy_grants_no_service_the_deploy_never_calls(real_env):
    called_services = {a.split(":")[0] for entry in real_env["actions"] for a in iam_actions(entry)}
    granted = {
        p.split(":")[0]
        for s in _policy_statements(real_env["policy_vars"])
        for p in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    # iam:PassRole of the CloudFormation service role is a grant no API call of ours makes directly;
    # lambda:UpdateFunctionConfiguration is the drift repair (sam_backend), called only when a function
    # drifted: this deploy has no console edit, make drift-check (by hand, after make demo) makes and repairs one.
    unused = sorted(granted - called_services - {"iam", "lambda"})
    assert not unused, f"{POLICY.name} grants services the deploy never calls: {unused}"


def test_recorded_actions_name_real_operations(real_env):
    """The recorder resolved every request to an API operation (no unrouted request lines)."""
    unrouted = [e for e in real_env["actions"] if " " in e["operation"]]
    assert not unrouted, unrouted[:10]
    assert os.environ.get("CLOUDSITE_RECORD_ACTIONS") is None


def test_the_controller_keeps_image_archives_only_of_recorded_versions(real_env):
    """After three builds (history depth 2): the stale archive pruned, none of a version no host records."""
    archives = real_env["archives"]
    assert "cloudsite_frontend-0stale.tar" not in archives, archives
    served = {v for k, v in real_env["served"]["build 3"].items() if k != "s3"}
    recorded = {f"cloudsite_frontend-{v}.tar" for v in served} | {
        f"cloudsite_frontend-{v}.tar" for build in ("build 1",) for v in real_env["served"][build].values()
    }
    assert set(archives) <= recorded, archives
    assert real_env["stale_image_left"] is False  # the controller's image of the dropped version is gone


def test_a_site_change_ships_only_the_layers_the_host_lacks(real_env):
    """The first deploy ships every layer (the host has no frontend image); each later build ships only
    its top layers: the nginx base and the configuration stay on the host."""
    shipped = {}
    for label in ("deploy", "update", "update 3"):
        found = re.findall(
            r"TASK \[frontend : Load the archive on the host, layers shipped of the image's (\d+)/(\d+)\]",
            real_env["runs"][label].stdout,
        )
        assert len(found) == 1, (label, found)
        shipped[label] = tuple(map(int, found[0]))
    assert shipped["deploy"][0] == shipped["deploy"][1], shipped
    for label in ("update", "update 3"):
        assert 0 < shipped[label][0] < shipped[label][1], shipped


def test_rollback_steps_takes_containers_and_site_back_to_the_same_build(real_env):
    """Three builds deployed; STEPS=3 (no such build yet) is refused in one line and changes nothing; STEPS=2
    serves build 1 from both containers and the bucket."""
    served = real_env["served"]
    assert set(served) == {"build 1", "build 3", "after refused rollback", "after rollback"}, served
    first, third = served["build 1"], served["build 3"]
    assert len(first) == 3 and len(set(first.values())) == 1, first  # S3 and both containers agree
    assert set(third.values()) == {third["s3"]} != set(first.values()), third
    refused = real_env["runs"]["rollback too far"]
    assert refused.returncode != 0
    assert "frontend_rollback_steps=3: " in refused.stdout and "records 2 earlier version(s)" in refused.stdout
    assert served["after refused rollback"] == third
    assert served["after rollback"] == first
