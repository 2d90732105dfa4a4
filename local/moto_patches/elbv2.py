"""Gap 1: ELBv2 target groups key targets by instance id only. Gap 13: fixed-response bodies unbounded.

On AWS a target is (Id, Port): one instance can be registered twice on two ports, and that is how
the frontend's two containers (8081, 8082) sit behind one target group. moto 5.2.5 stores
``targets[Id]`` so the second registration overwrites the first, and deregistering either port
removes both. We key by ``"Id:Port"`` everywhere the target group touches its dicts.

Gap 13: AWS refuses a fixed-response ``MessageBody`` longer than 1024 characters (ValidationError;
botocore does not check maximum lengths); moto 5.2.5 stores any length. The maintenance page is such a
body, so the emulator refuses it like AWS.

Gap 8: with the local ALB running (``local.dataplane``, LOCAL_ALB_PORT), DescribeTargetHealth answers
what HAProxy's health checks measure, DeregisterTargets drains the target in the proxy at once, and a
describe without a target list also lists the targets still draining.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2 import models
from moto.elbv2.exceptions import InvalidTargetError, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup, TargetNotRunning

from local import dataplane

MAX_FIXED_RESPONSE_BODY = 1024
_validate_fixed_response = ELBv2Backend._validate_fixed_response_action


def _key(group: FakeTargetGroup, target: dict[str, Any]) -> str:
    return f"{target['Id']}:{int(target.get('Port') or group.port)}"


def register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    for target in targets:
        if instance := self.ec2_backend.get_instance_by_id(target["Id"]):
            if instance.state != "running":
                raise TargetNotRunning(instance_id=target["Id"])
        key = _key(self, target)
        self.targets[key] = {"Id": target["Id"], "Port": int(target.get("Port") or self.port)}
        self.deregistered_targets.pop(key, None)
        self.terminated_targets.pop(key, None)


def deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    for target in targets:
        key = _key(self, target)
        t = self.targets.pop(key, None)
        if not t:
            raise InvalidTargetError()
        self.deregistered_targets[key] = t
        if (alb := dataplane.current()) is not None:  # gap 8: the local ALB drains it at once
            delay = int(self.attributes.get("deregistration_delay.timeout_seconds", 300))
            alb.deregistered(self.name, t["Id"], t["Port"], delay)


def deregister_terminated_instances(self: FakeTargetGroup, instance_ids: list[str]) -> None:
    for key, t in list(self.targets.items()):
        if t["Id"] in instance_ids:
            self.terminated_targets[key] = self.targets.pop(key)


def health_for(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
    key = _key(self, target)
    port = int(target.get("Port") or self.port)
    t = self.targets.get(key)
    # Gap 8: with the local ALB running, the health is what the proxy measures.
    if (alb := dataplane.current()) is not None:
        measured = alb.health(self.name, target["Id"], port, registered=t is not None)
        if measured is not None:
            state, reason, description = measured
            return FakeHealthStatus(
                target["Id"], port, self.health_check_port, state, reason or None, description or None
            )
    if t is None:
        if key in self.terminated_targets:
            return FakeHealthStatus(
                target["Id"],
                port,
                self.health_check_port,
                "draining",
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        return FakeHealthStatus(
            target["Id"],
            port,
            self.health_check_port,
            "unused",
            "Target.NotRegistered",
            "Target is not registered to the target group",
        )
    if t["Id"].startswith("i-"):
        instance = ec2_backend.get_instance_by_id(t["Id"])
        if instance and instance.state == "stopped":
            return FakeHealthStatus(
                t["Id"],
                t["Port"],
                self.health_check_port,
                "unused",
                "Target.InvalidState",
                "Target is in the stopped state",
            )
    return FakeHealthStatus(t["Id"], t["Port"], self.health_check_port, "healthy")


def validate_fixed_response(self: ELBv2Backend, action: Any, i: int, index: int) -> None:
    _validate_fixed_response(self, action, i, index)
    body = action.data.get("FixedResponseConfig", {}).get("MessageBody") or ""
    if len(body) > MAX_FIXED_RESPONSE_BODY:
        raise ValidationError(
            f"1 validation error detected: Value at 'actions.{index}.member.fixedResponseConfig.messageBody' "
            f"failed to satisfy constraint: Member must have length less than or equal to {MAX_FIXED_RESPONSE_BODY}"
        )


def describe_target_health(self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]) -> list:
    """Without a target list, AWS lists registered targets and the ones still draining (gap 8)."""
    group = self.target_groups.get(target_group_arn)
    if group is not None and not targets:
        targets = list(group.targets.values())
        if (alb := dataplane.current()) is not None:
            targets += [{"Id": i, "Port": p} for i, p in alb.draining_targets(group.name)]
    return _original_describe_target_health(self, target_group_arn, targets)


_original_describe_target_health = ELBv2Backend.describe_target_health


def apply() -> None:
    ELBv2Backend._validate_fixed_response_action = validate_fixed_response
    ELBv2Backend.describe_target_health = describe_target_health
    FakeTargetGroup.register = register
    FakeTargetGroup.deregister = deregister
    FakeTargetGroup.deregister_terminated_instances = deregister_terminated_instances
    FakeTargetGroup.health_for = health_for
    assert models.FakeTargetGroup is FakeTargetGroup
