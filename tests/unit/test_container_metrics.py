"""The host_metrics role's container collector (roles/host_metrics/files/container_metrics.py): its samples
from the Docker Engine API's answers, its text format, and its failure path (no engine: success 0, exit 1,
a complete file all the same). The integration test reads the same metrics from a real engine."""

from __future__ import annotations

import importlib.util
import os

from tests.conftest import ROOT

SPEC = importlib.util.spec_from_file_location(
    "container_metrics", ROOT / "roles" / "host_metrics" / "files" / "container_metrics.py"
)
cm = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(cm)

GIB = 1024**3
RUNNING = {"Id": "a" * 64, "Names": ["/frontend-8081"], "Image": "cloudsite/frontend:abc", "State": "running"}
# A one-shot stats answer of Docker 20.10 on cgroup v2 (fields the collector reads, values made up).
STATS = {
    "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
    "memory_stats": {"usage": 50_000_000, "limit": 2 * GIB, "stats": {"inactive_file": 10_000_000}},
    "networks": {"eth0": {"rx_bytes": 1234, "tx_bytes": 5678}},
}


def by_metric(samples):
    return {(metric, lbl): value for metric, lbl, value in samples}


def test_a_running_container_gives_cpu_memory_network_and_start_time():
    samples = by_metric(cm.container_samples(RUNNING, STATS, "2026-12-01T23:55:00.500000000Z", 4 * GIB))
    who = '{name="frontend-8081"}'
    assert samples[("container_info", '{name="frontend-8081",image="cloudsite/frontend:abc",state="running"}')] == 1
    assert samples[("container_cpu_usage_seconds_total", who)] == 2.5
    assert samples[("container_memory_usage_bytes", who)] == 50_000_000
    assert samples[("container_memory_working_set_bytes", who)] == 40_000_000
    assert samples[("container_spec_memory_limit_bytes", who)] == 2 * GIB
    assert samples[("container_network_receive_bytes_total", '{name="frontend-8081",interface="eth0"}')] == 1234
    assert samples[("container_network_transmit_bytes_total", '{name="frontend-8081",interface="eth0"}')] == 5678
    assert samples[("container_start_time_seconds", who)] == 1796169300.5


def test_no_limit_reads_as_zero_and_cgroup_v1_cache_is_subtracted():
    stats = {"memory_stats": {"usage": 300, "limit": 4 * GIB, "stats": {"total_inactive_file": 100}}}
    samples = by_metric(cm.container_samples(RUNNING, stats, None, 4 * GIB))
    assert samples[("container_spec_memory_limit_bytes", '{name="frontend-8081"}')] == 0
    assert samples[("container_memory_working_set_bytes", '{name="frontend-8081"}')] == 200


def test_a_stopped_container_is_listed_with_its_state_only():
    stopped = {"Id": "b" * 64, "Names": ["/old"], "Image": "x", "State": "exited"}
    assert cm.container_samples(stopped, None, None, GIB) == [
        ("container_info", '{name="old",image="x",state="exited"}', 1)
    ]


def test_label_values_are_escaped():
    odd = {"Id": "c" * 64, "Names": ['/a"b\\c'], "Image": "i\nj", "State": "running"}
    ((_, lbl, _),) = cm.container_samples(odd, None, None, GIB)
    assert lbl == '{name="a\\"b\\\\c",image="i\\nj",state="running"}'


def test_render_gives_each_metric_one_help_and_type_and_the_collector_status():
    samples = cm.container_samples(RUNNING, STATS, None, 4 * GIB)
    text = cm.render(samples, True, 1796169300.2)
    lines = text.splitlines()
    assert lines.count("# TYPE container_cpu_usage_seconds_total counter") == 1
    assert lines.count("# TYPE container_info gauge") == 1
    assert 'container_cpu_usage_seconds_total{name="frontend-8081"} 2.5' in lines
    assert lines[-1] == "container_metrics_collector_timestamp_seconds 1796169300"
    assert "container_metrics_collector_success 1" in lines
    assert text.endswith("\n")
    # Every sample line is '<name>{labels} <number>' or '<name> <number>'.
    for line in lines:
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_without_an_engine_the_file_says_so_and_the_run_fails(tmp_path):
    output = tmp_path / "containers.prom"
    assert cm.main([str(output), "--socket", str(tmp_path / "no-docker.sock")]) == 1
    text = output.read_text()
    assert "container_metrics_collector_success 0" in text
    assert "container_info" not in text
    assert oct(os.stat(output).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["containers.prom"]  # no temporary file left behind
