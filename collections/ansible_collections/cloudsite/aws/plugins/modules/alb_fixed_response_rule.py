#!/usr/bin/python
"""Project module: one fixed-response rule (the maintenance page) on the forwarding listeners of an ALB."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alb_fixed_response_rule
short_description: Add or remove one catch-all fixed-response rule on an ALB's forwarding listeners
description:
  - Ensures a rule at O(priority) with the condition C(path-pattern /*) and a C(fixed-response) action on
    every listener of the load balancer whose default action forwards (a redirecting port-80 listener is
    left alone), or removes it (O(state=absent)). Other rules are not touched.
  - The gap it fills, M(amazon.aws.elb_application_lb) manages rules only as part of the whole load
    balancer's listener list (restating every listener, purging undeclared rules); there is no module
    for one rule. The load balancer role declares no C(Rules), so this rule survives later deploys.
  - Targets stay registered. Requests already on a target finish (the ALB drains nothing), new
    requests get the fixed response.
  - Supports check mode and diff mode.
options:
  load_balancer_name:
    description: Name of the application load balancer.
    type: str
    required: true
  priority:
    description: Rule priority (1-50000; lower wins). The rule is identified by it.
    type: int
    default: 1
  status_code:
    description: HTTP status of the fixed response (2XX, 4XX or 5XX).
    type: str
    default: "501"
  content_type:
    description: Content type of the fixed response.
    type: str
    choices: [text/plain, text/css, text/html, application/javascript, application/json]
    default: text/html
  message_body:
    description: Body of the fixed response (at most 1024 characters, an ELBv2 limit).
    type: str
    default: ""
  state:
    description: Whether the rule exists.
    type: str
    choices: [present, absent]
    default: present
author:
  - cloudsite project
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Answer every request with the maintenance page
  cloudsite.aws.alb_fixed_response_rule:
    load_balancer_name: cloudsite-alb
    message_body: "<h1>Back soon</h1>"
"""

RETURN = r"""
listeners:
  description: Per listener ARN, the rule ARN after the run (empty when absent).
  returned: always
  type: dict
"""

import re
from typing import Any

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

MAX_BODY = 1024


def desired_rule(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "Conditions": [{"Field": "path-pattern", "Values": ["/*"]}],
        "Actions": [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": params["status_code"],
                    "ContentType": params["content_type"],
                    "MessageBody": params["message_body"],
                },
            }
        ],
    }


def normalise(rule: dict[str, Any]) -> dict[str, Any]:
    """The comparable part of a described rule: conditions by Field/Values, actions by Type/config."""
    conditions = [
        {"Field": c["Field"], "Values": sorted(c.get("Values") or (c.get("PathPatternConfig") or {}).get("Values", []))}
        for c in rule.get("Conditions", [])
    ]
    actions = []
    for a in rule.get("Actions", []):
        config = a.get("FixedResponseConfig")
        actions.append(
            {
                "Type": a["Type"],
                "FixedResponseConfig": {
                    "StatusCode": str(config.get("StatusCode", "")),
                    "ContentType": config.get("ContentType", ""),
                    "MessageBody": config.get("MessageBody", ""),
                }
                if config
                else None,
            }
        )
    return {"Conditions": conditions, "Actions": [{k: v for k, v in a.items() if v is not None} for a in actions]}


def _forwards(client: Any, listener: dict[str, Any]) -> bool:
    if any(a["Type"] == "forward" for a in listener.get("DefaultActions", [])):
        return True
    rules = client.describe_rules(aws_retry=True, ListenerArn=listener["ListenerArn"])["Rules"]
    return any(a["Type"] == "forward" for r in rules if not r.get("IsDefault") for a in r.get("Actions", []))


def main() -> None:
    argument_spec = dict(
        load_balancer_name=dict(type="str", required=True),
        priority=dict(type="int", default=1),
        status_code=dict(type="str", default="501"),
        content_type=dict(
            type="str",
            choices=["text/plain", "text/css", "text/html", "application/javascript", "application/json"],
            default="text/html",
        ),
        message_body=dict(type="str", default=""),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    if not 1 <= p["priority"] <= 50000:
        module.fail_json(msg=f"priority must be 1-50000; got {p['priority']}")
    if not re.fullmatch(r"[245]\d\d", p["status_code"]):
        module.fail_json(msg=f"status_code must be a 2XX, 4XX or 5XX code; got '{p['status_code']}'")
    if len(p["message_body"]) > MAX_BODY:
        module.fail_json(msg=f"message_body must be at most {MAX_BODY} characters; got {len(p['message_body'])}")
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    desired = desired_rule(p)
    changed = False
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    listeners_out: dict[str, str] = {}
    try:
        try:
            balancer = client.describe_load_balancers(aws_retry=True, Names=[p["load_balancer_name"]])
        except client.exceptions.LoadBalancerNotFoundException:
            module.fail_json(msg=f"load balancer {p['load_balancer_name']} not found: deploy first")
        arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]
        listeners = client.describe_listeners(aws_retry=True, LoadBalancerArn=arn)["Listeners"]
        # A listener serves the site when its default action forwards, or (the origin lock: default fixed 403)
        # one of its rules forwards.
        forwarding = [ln for ln in listeners if _forwards(client, ln)]
        if not forwarding:
            module.fail_json(msg=f"load balancer {p['load_balancer_name']} has no forwarding listener")
        for listener in sorted(forwarding, key=lambda ln: ln["Port"]):
            key = f"{listener['Protocol']}:{listener['Port']}"
            rules = client.describe_rules(aws_retry=True, ListenerArn=listener["ListenerArn"])["Rules"]
            current = next((r for r in rules if r["Priority"] == str(p["priority"])), None)
            before[key] = normalise(current) if current else {}
            after[key] = desired if p["state"] == "present" else {}
            if p["state"] == "absent":
                if current is None:
                    listeners_out[listener["ListenerArn"]] = ""
                    continue
                if not module.check_mode:
                    client.delete_rule(aws_retry=True, RuleArn=current["RuleArn"])
                changed = True
                listeners_out[listener["ListenerArn"]] = ""
            elif current is None:
                rule_arn = ""
                if not module.check_mode:
                    rule_arn = client.create_rule(
                        aws_retry=True, ListenerArn=listener["ListenerArn"], Priority=p["priority"], **desired
                    )["Rules"][0]["RuleArn"]
                changed = True
                listeners_out[listener["ListenerArn"]] = rule_arn
            elif normalise(current) != desired:
                if not module.check_mode:
                    client.modify_rule(aws_retry=True, RuleArn=current["RuleArn"], **desired)
                changed = True
                listeners_out[listener["ListenerArn"]] = current["RuleArn"]
            else:
                listeners_out[listener["ListenerArn"]] = current["RuleArn"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to manage the fixed-response rule on {p['load_balancer_name']}")
    module.exit_json(changed=changed, listeners=listeners_out, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
