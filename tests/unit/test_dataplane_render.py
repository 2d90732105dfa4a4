"""local/dataplane.py's pure part: ELBv2 state (API-shaped) to HAProxy configuration and target health."""

from __future__ import annotations

import re

import pytest

from local import dataplane

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1"


def state(rules=None, default=None, targets=(("i-1", 8081), ("i-1", 8082))):
    return {
        "load_balancers": [
            {
                "name": "web",
                "listeners": [
                    {
                        "port": 80,
                        "rules": rules or [],
                        "default_actions": default or [{"Type": "forward", "TargetGroupArn": TG}],
                    }
                ],
            }
        ],
        "target_groups": [
            {
                "arn": TG,
                "name": "web",
                "health_check_path": "/healthz",
                "health_check_interval": 10,
                "health_check_timeout": 5,
                "healthy_threshold": 3,
                "unhealthy_threshold": 2,
                "matcher": "200-202,204",
                "deregistration_delay": 15,
                "targets": list(targets),
            }
        ],
    }


def test_target_group_becomes_a_checked_backend_with_the_stand_in_address():
    plan = dataplane.render(state(), {"i-1": "172.17.0.9"}, 5161, disabled={"tg_web/i-1_8082"})
    cfg = plan.config
    assert "bind 127.0.0.1:5161" in cfg
    assert "option httpchk GET /healthz" in cfg
    assert "http-check expect rstatus ^(200|201|202|204)$" in cfg
    assert "default-server inter 10s rise 3 fall 2" in cfg and "timeout check 5s" in cfg
    assert "server i-1_8081 172.17.0.9:8081 check\n" in cfg
    assert "server i-1_8082 172.17.0.9:8082 check disabled\n" in cfg
    assert plan.listeners == [
        {"load_balancer": "web", "dns_name": "", "port": 80, "local_port": 5161, "frontend": "lb_web_80"}
    ]


def test_target_without_a_stand_in_gets_no_server():
    assert "  server " not in dataplane.render(state(), {}, 5161, set()).config


def test_rules_apply_in_priority_order_before_the_default_action():
    rules = [
        {
            "priority": "20",
            "conditions": [
                {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Origin-Verify", "Values": ["a$b*"]}}
            ],
            "actions": [{"Type": "forward", "TargetGroupArn": TG}],
        },
        {
            "priority": "3",
            "conditions": [{"Field": "path-pattern", "Values": ["/maint?nance*"]}],
            "actions": [
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/html", "MessageBody": 'say "no"'},
                }
            ],
        },
    ]
    default = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain"}}]
    cfg = dataplane.render(state(rules, default), {"i-1": "10.0.0.1"}, 5161, set()).config
    sets = re.findall(r"set-var\(txn.rule\) str\((\w+)\)", cfg)
    assert sets == ["r3", "r20", "default"]
    assert r'{ path -m reg "^/maint.nance.*\$" }' in cfg
    assert r'{ req.fhdr(X-Origin-Verify) -m reg -i "^a\\\$b.*\$" }' in cfg
    assert (
        r'http-request return status 503 content-type "text/html" string "say \"no\"" if { var(txn.rule) -m str r3 }'
        in cfg
    )
    assert (
        'http-request return status 403 content-type "text/plain" string "" if { var(txn.rule) -m str default }' in cfg
    )
    assert "use_backend tg_web if { var(txn.rule) -m str r20 }" in cfg
    # use_backend lines come after every http-request line (HAProxy evaluates them later anyway).
    body = cfg.split("frontend lb_web_80")[1].split("backend ")[0]
    kinds = [line.split()[0] for line in body.strip().splitlines()[1:]]
    assert kinds == sorted(kinds, key=lambda k: k == "use_backend")


def test_unknown_condition_and_bad_header_name_are_refused():
    with pytest.raises(dataplane.DataPlaneError, match="'grpc-thing'"):
        dataplane.render(state([{"priority": 1, "conditions": [{"Field": "grpc-thing"}], "actions": []}]), {}, 1, set())
    bad = {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X bad", "Values": ["x"]}}
    with pytest.raises(dataplane.DataPlaneError, match="HttpHeaderName"):
        dataplane.render(state([{"priority": 1, "conditions": [bad], "actions": []}]), {}, 1, set())


@pytest.mark.parametrize(
    ("row", "draining", "initial", "expected"),
    [
        ({"status": "UP", "check_status": "L7OK"}, False, False, "healthy"),
        ({"status": "UP 1/2", "check_status": "L7STS"}, False, False, "healthy"),
        ({"status": "DOWN", "check_status": "INI"}, False, True, "initial"),
        ({"status": "DOWN 1/3", "check_status": "L7OK"}, False, True, "initial"),
        ({"status": "DOWN", "check_status": "L7STS", "check_code": "500"}, False, True, "unhealthy"),
        ({"status": "DOWN", "check_status": "L4CON"}, False, False, "unhealthy"),
        ({"status": "MAINT", "check_status": "L7OK"}, True, False, "draining"),
        (None, False, False, "unhealthy"),
    ],
)
def test_target_health_from_haproxy_stats(row, draining, initial, expected):
    assert dataplane.target_health(row, draining, initial)[0] == expected


def test_health_reasons_are_aws_reason_codes():
    assert dataplane.target_health({"status": "DOWN", "check_status": "L7STS", "check_code": "500"}, False, False)[
        :2
    ] == (
        "unhealthy",
        "Target.ResponseCodeMismatch",
    )
    assert dataplane.target_health({"status": "DOWN", "check_status": "L7TOUT"}, False, False)[1] == "Target.Timeout"
    assert dataplane.target_health({"status": "DOWN", "check_status": "L4CON"}, False, False)[1] == (
        "Target.FailedHealthChecks"
    )
    assert dataplane.target_health(None, True, False)[1] == "Target.DeregistrationInProgress"


# The edge (local/edge.py): distribution config to nginx.conf, and the invalidation purge.

from local import edge  # noqa: E402


def dist(rate_limit=0):
    return {
        "id": "E1",
        "domain": "d1.cloudfront.net",
        "default_root_object": "index.html",
        "origins": [
            {"id": "alb", "domain": "web-1.elb.amazonaws.com", "custom": True, "http_port": 80,
             "headers": [("X-Origin-Verify", "s$cret")], "oac": ""},
            {"id": "s3", "domain": "site.s3.us-east-1.amazonaws.com", "custom": False, "http_port": 80,
             "headers": [], "oac": "OAC1"},
        ],
        "groups": [{"id": "grp", "codes": [500, 503], "members": ["alb", "s3"]}],
        "target": "grp",
        "ttls": (1, 86400, 31536000),
        "rate_limit": rate_limit,
    }  # fmt: skip


def test_edge_origin_group_alb_first_then_signed_s3_on_failover_codes():
    conf, served = edge.render([dist(rate_limit=1000)], {("web-1.elb.amazonaws.com", 80): 5161}, 40000, 5162)
    assert served == [{"distribution": "E1", "domain": "d1.cloudfront.net", "local_port": 5162}]
    assert "listen 127.0.0.1:5162;" in conf
    assert "location = / { rewrite ^ /index.html last; }" in conf
    assert "proxy_pass http://127.0.0.1:5161;" in conf
    assert 'proxy_set_header X-Origin-Verify "s${dollar}cret";' in conf
    assert "error_page 500 502 503 504 = @o1;" in conf  # the group's codes plus connection failures
    assert "proxy_pass http://127.0.0.1:40000/site$uri;" in conf
    assert "proxy_cache_valid 200 206 301 302 86400s;" in conf and "proxy_cache_key $uri;" in conf
    assert "rate=200r/m;" in conf and "burst=1000 nodelay;" in conf


def test_edge_without_alb_listener_fails_over_and_bucket_names_are_checked():
    conf, _ = edge.render([dist()], {}, 40000, 5162)
    assert "return 502;" in conf and "limit_req" not in conf
    with pytest.raises(edge.EdgeError, match="not a bucket endpoint"):
        edge.bucket_of("example.com")


def test_invalidation_purges_matching_cache_files_only(tmp_path):
    for name, key in (("a", "/a.css"), ("b", "/b.css"), ("c", "/img/x.svg"), ("d", "/imgs.txt")):
        (tmp_path / "1").mkdir(exist_ok=True)
        (tmp_path / "1" / name).write_bytes(b"\x05\x00binaryheader\nKEY: " + key.encode() + b"\nHTTP/1.1 200 OK\n")
    assert edge.purge(tmp_path, ["/a.css", "/img/*"]) == 2
    assert sorted(p.name for p in (tmp_path / "1").iterdir()) == ["b", "d"]
    assert edge.purge(tmp_path, ["/*"]) == 2
