"""The drift_report callback's classification of check-mode results (pure functions, no AWS)."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("drift_report", ROOT / "plugins" / "callback" / "drift_report.py")
drift = importlib.util.module_from_spec(spec)
spec.loader.exec_module(drift)

ALB_PAIR = {"group_id": "sg-alb", "user_id": "123456789012"}
# ec2_security_group's --diff after a console edit added SSH from anywhere (shape as the module returns it).
DEPLOYED = [
    {
        "from_port": 22,
        "to_port": 22,
        "ip_protocol": "tcp",
        "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}],
        "user_id_group_pairs": [],
    },
    {"from_port": 8081, "to_port": 8081, "ip_protocol": "tcp", "ip_ranges": [], "user_id_group_pairs": [ALB_PAIR]},
]
DECLARED = [
    {
        "from_port": "8081",
        "to_port": "8081",
        "ip_protocol": "tcp",
        "ip_ranges": [],
        "user_id_group_pairs": [{**ALB_PAIR, "description": "from the ALB", "group_name": "cloudsite-alb"}],
    }
]


def test_an_added_rule_is_unmanaged_extra_with_the_extra_item_of_its_attribute():
    status, changes = drift.classify(
        {
            "changed": True,
            "diff": {
                "before": {"group_name": "cloudsite-web", "ip_permissions": DEPLOYED, "group_arn": "arn:..."},
                "after": {"group_name": "cloudsite-web", "ip_permissions": DECLARED},
            },
        }
    )
    assert status == "UNMANAGED-EXTRA"
    assert changes == [{"attribute": "ip_permissions", "deployed": [DEPLOYED[0]], "declared": []}]


def test_an_extra_item_next_to_a_changed_value_is_modified():
    """Issue 17 point 3: UNMANAGED-EXTRA only when nothing declared is missing or different."""
    extra_only = {"before": {"Fn/Environment/Variables/DEBUG": "1"}, "after": {"Fn/Environment/Variables/DEBUG": None}}
    assert drift.classify({"changed": True, "diff": extra_only})[0] == "UNMANAGED-EXTRA"
    both = {
        "before": {"Fn/Environment/Variables/DEBUG": "1", "Fn/MemorySize": "512"},
        "after": {"Fn/Environment/Variables/DEBUG": None, "Fn/MemorySize": "128"},
    }
    assert drift.classify({"changed": True, "diff": both})[0] == "MODIFIED"
    replaced = {"before": {"rules": [{"a": 1}]}, "after": {"rules": [{"a": 2}]}}
    assert drift.classify({"changed": True, "diff": replaced})[0] == "MODIFIED"


def test_scalar_and_nested_changes_name_the_dotted_attribute():
    status, changes = drift.classify(
        {"changed": True, "diff": {"before": {"cache": {"DefaultTTL": 60}}, "after": {"cache": {"DefaultTTL": 86400}}}}
    )
    assert (status, changes) == (
        "MODIFIED",
        [{"attribute": "cache.DefaultTTL", "deployed": 60, "declared": 86400}],
    )


def test_missing_extra_in_sync_and_change_without_diff():
    assert drift.classify({"changed": True, "diff": {"before": {}, "after": {"name": "x"}}})[0] == "MISSING"
    assert drift.classify({"changed": True, "diff": {"before": {"name": "x"}, "after": {}}})[0] == "UNMANAGED-EXTRA"
    assert drift.classify({"changed": False, "diff": {"before": {"a": 1}, "after": {"a": 1}}}) == ("IN_SYNC", [])
    status, changes = drift.classify({"changed": True})
    assert status == "MODIFIED" and changes[0]["attribute"] == "(not reported by the module)"


def test_report_status_maps_to_the_exit_codes():
    in_sync = [{"status": "IN_SYNC"}]
    assert drift.report_status(in_sync, []) == "in_sync"
    assert drift.report_status([*in_sync, {"status": "MISSING"}], []) == "drift"
    assert drift.report_status(in_sync, [{"task": "t", "host": "h", "msg": "boom"}]) == "error"


def test_resource_modules():
    assert drift.is_resource_module("amazon.aws.ec2_security_group")
    assert drift.is_resource_module("community.docker.docker_container")
    assert drift.is_resource_module("cloudsite.aws.cloudfront_site")
    assert not drift.is_resource_module("amazon.aws.s3_bucket_info")
    assert not drift.is_resource_module("ansible.builtin.set_fact")
    assert not drift.is_resource_module("cloudsite.aws.deploy_lock")
