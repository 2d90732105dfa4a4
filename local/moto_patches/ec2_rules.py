"""Gap 23: a security group rule that references a prefix list keeps no description.

AWS keeps ``PrefixListIds[].Description`` of an ingress/egress permission like the description of a
CIDR or a group reference, shows it in DescribeSecurityGroups and DescribeSecurityGroupRules, and
UpdateSecurityGroupRuleDescriptions{Ingress,Egress} changes it (answering ``{"Return": true}``).
moto 5.2.5 drops it when the rule is stored and answers the update with an empty body, so a role that
describes its prefix-list rule would drift on every run in the rehearsal. Here the rule keeps it, the
views show it, the update changes it and answers ``Return``.
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import security_groups as models
from moto.ec2.responses.security_groups import SecurityGroups

_orig_init = models.SecurityGroupRule.__init__
_orig_update = models.SecurityGroupBackend._sg_update_description
_orig_flatten = models.SecurityGroup._flattened_rules
_SIGNATURE = inspect.signature(_orig_init)


def rule_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_init(self, *args, **kwargs)
    prefix_list = _SIGNATURE.bind(self, *args, **kwargs).arguments.get("prefix_list_id") or {}
    self.prefix_list_description = prefix_list.get("Description")


def rule_description(self: Any) -> str | None:
    return self.ip_range.get("Description") or self.prefix_list_description


def flattened_rules(self: Any, rules: list[Any]) -> list[Any]:
    views = _orig_flatten(self, rules)
    described = {
        (r.from_port, r.to_port, r.ip_protocol, r.prefix_list_id): r.prefix_list_description
        for r in rules
        if r.prefix_list_id and getattr(r, "prefix_list_description", None)
    }
    for view in views:
        for entry in view.prefix_list_ids:
            text = described.get((view.from_port, view.to_port, view.ip_protocol, entry["PrefixListId"]))
            if text:
                entry["Description"] = text
    return views


def update_description(self: Any, security_rule: Any, rule: Any) -> None:
    _orig_update(self, security_rule, rule)
    text = getattr(security_rule, "prefix_list_description", None)
    if security_rule.prefix_list_id and security_rule.prefix_list_id == rule.prefix_list_id and text is not None:
        rule.prefix_list_description = text


def _answer_return(name: str) -> Any:
    original = getattr(SecurityGroups, name)

    def answer(self: Any) -> ActionResult:
        original(self)
        return ActionResult({"Return": True})

    return answer


def apply() -> None:
    models.SecurityGroupRule.__init__ = rule_init
    models.SecurityGroupRule.description = property(rule_description)
    models.SecurityGroup._flattened_rules = flattened_rules
    models.SecurityGroupBackend._sg_update_description = update_description
    for name in ("update_security_group_rule_descriptions_ingress", "update_security_group_rule_descriptions_egress"):
        setattr(SecurityGroups, name, _answer_return(name))
