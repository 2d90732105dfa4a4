"""Host metrics (issue 18): node and container metrics on a web host, reachable from the admin networks only.

Against a private emulator and one stand-in (Debian bookworm reached as ``admin`` with become, like the
real image), with ``web_metrics_enabled`` and an admin allow-list:

* ``playbooks/infra.yml --tags aws_network,ec2_host`` opens ``web_metrics_port`` in the web security
  group to exactly the allow-list (no group, no other range), and a re-run changes nothing;
* ``playbooks/host.yml``: apply, then ``--check`` with ``changed=0`` (and ``--tags host_metrics`` below,
  an apply, ``changed=0`` too);
* the exporter answers at the stand-in's address with ``node_*`` metrics, and per-container metrics for
  a running and a stopped container started on the stand-in's own Docker engine;
* ``--tags host_metrics`` runs the role alone.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from local import envctl
from tests.conftest import RECAP_HOSTS, reset_moto, run_playbook

pytestmark = [pytest.mark.emulator, pytest.mark.docker, pytest.mark.slow]

ALLOW = ["203.0.113.7/32", "198.51.100.0/24"]
PORT = 9109  # not the default: the variable reaches the role, the guard and the security group
EXTRA = json.dumps({"web_metrics_enabled": True, "web_metrics_port": PORT, "aws_network_ssh_allow_cidrs": ALLOW})
COLLECTOR = "cloudsite-container-metrics"


def playbook(moto_url: str, *args: str) -> str:
    playbook_path, *rest = args
    proc = run_playbook(moto_url, playbook_path, *rest, "-e", EXTRA)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{args} failed:\n{output[-4000:]}"
    return output


def changed(output: str) -> dict[str, int]:
    """host -> changed from the PLAY RECAP (every host failed=0 and reachable)."""
    found = {}
    for match in RECAP_HOSTS.finditer(output):
        assert (match.group(4), match.group(5)) == ("0", "0"), output[-3000:]
        found[match.group(1)] = int(match.group(3))
    assert found, output[-3000:]
    return found


def standin_exec(standin: str, script: str) -> str:
    """Run a shell script as root inside the stand-in (test set-up and read-back, not the deploy's path)."""
    proc = subprocess.run(["docker", "exec", standin, "sh", "-ec", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}:{PORT}/metrics", timeout=30) as response:
        assert response.status == 200
        return response.read().decode()


@pytest.fixture(scope="module")
def deployed(moto_url, docker_engine):
    """Infra twice, then the host stage apply → check; yields the outputs and the stand-in."""
    reset_moto(moto_url)
    outputs = {}
    try:
        outputs["infra"] = playbook(moto_url, "playbooks/infra.yml", "--tags", "aws_network,ec2_host")
        outputs["infra_again"] = playbook(moto_url, "playbooks/infra.yml", "--tags", "aws_network,ec2_host")
        # No --check on the fresh stand-in: its image has no apt lists, and the apt module does not refresh
        # them in check mode, so the docker role before this one stops there ("No package matching").
        for step, args in (
            ("apply", []),
            ("check_converged", ["--check"]),
        ):
            outputs[step] = playbook(moto_url, "playbooks/host.yml", *args)
        hosts = [h for h in changed(outputs["apply"]) if h != "localhost"]
        assert len(hosts) == 1, outputs["apply"][-3000:]
        yield {"outputs": outputs, "standin": hosts[0]}
    finally:
        envctl.remove_standins(moto_url)


def test_the_web_group_opens_the_metrics_port_to_the_allow_list_only(deployed, aws_client):
    assert changed(deployed["outputs"]["infra_again"]) == {"localhost": 0}
    ec2 = aws_client("ec2")
    (web,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["cloudsite-web"]}])[
        "SecurityGroups"
    ]
    metrics = [p for p in web["IpPermissions"] if p["FromPort"] == PORT]
    assert len(metrics) == 1, web["IpPermissions"]
    (rule,) = metrics
    assert (rule["IpProtocol"], rule["ToPort"]) == ("tcp", PORT)
    assert sorted(r["CidrIp"] for r in rule["IpRanges"]) == sorted(ALLOW)
    assert rule["UserIdGroupPairs"] == [] and rule["Ipv6Ranges"] == [] and rule["PrefixListIds"] == []
    # Nothing else opened: the containers' ports from the ALB, SSH and metrics from the allow-list.
    assert sorted(p["FromPort"] for p in web["IpPermissions"]) == [22, 8081, 8082, PORT]


def test_host_stage_converges_and_re_runs_with_no_change(deployed):
    outputs, standin = deployed["outputs"], deployed["standin"]
    assert "TASK [host_metrics : Install node_exporter]" in outputs["apply"]
    assert changed(outputs["apply"])[standin] > 0
    assert changed(outputs["check_converged"]) == {standin: 0, "localhost": 0}, outputs["check_converged"][-3000:]


def test_node_and_container_metrics_are_served_at_the_host_address(deployed):
    standin = deployed["standin"]
    address = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", standin],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # An image made of the stand-in's own sleep binary and its libraries (no registry): one running
    # container with a memory limit, one created and never started. Then one collection, as the timer runs it.
    standin_exec(
        standin,
        """
        tar -chf - /usr/bin/sleep $(ldd /usr/bin/sleep | grep -o '/[^ ]*') 2>/dev/null | docker import - metrics-probe:1
        docker rm -f metrics-running metrics-created >/dev/null 2>&1 || true
        docker run -d --name metrics-running --memory 64m metrics-probe:1 /usr/bin/sleep infinity
        docker create --name metrics-created metrics-probe:1 /usr/bin/sleep 1
        systemctl start cloudsite-container-metrics.service
        """,
    )
    assert standin_exec(
        standin, f"systemctl is-active {COLLECTOR}.timer; systemctl is-enabled {COLLECTOR}.timer"
    ).split() == [
        "active",
        "enabled",
    ]
    text = scrape(address)
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and line[0] != "#"
    }
    # The node: CPU, memory and file system metrics from node_exporter itself.
    assert any(name.startswith("node_cpu_seconds_total{") for name in samples)
    assert samples["node_memory_MemTotal_bytes"] > 0
    assert samples["node_textfile_scrape_error"] == 0
    # The containers, from the textfile collector.
    assert samples["container_metrics_collector_success"] == 1
    assert samples['container_info{image="metrics-probe:1",name="metrics-running",state="running"}'] == 1
    assert samples['container_info{image="metrics-probe:1",name="metrics-created",state="created"}'] == 1
    assert samples['container_spec_memory_limit_bytes{name="metrics-running"}'] == 64 * 1024 * 1024
    assert samples['container_memory_usage_bytes{name="metrics-running"}'] > 0
    assert samples['container_cpu_usage_seconds_total{name="metrics-running"}'] > 0
    assert 'container_network_receive_bytes_total{interface="eth0",name="metrics-running"}' in samples
    assert not any('name="metrics-created"' in name and not name.startswith("container_info") for name in samples)


def test_the_role_runs_alone_by_its_tag(deployed, moto_url):
    output = playbook(moto_url, "playbooks/host.yml", "--tags", "host_metrics")
    assert "TASK [host_metrics : Install node_exporter]" in output
    # Only the roles' argument validation runs for docker (Ansible tags it always), none of its work.
    assert "TASK [docker : Install Docker Engine]" not in output
    assert "TASK [docker : Write the Docker daemon configuration]" not in output
    assert changed(output) == {deployed["standin"]: 0, "localhost": 0}, output[-3000:]
