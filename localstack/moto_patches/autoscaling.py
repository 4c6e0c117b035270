"""Auto Scaling group instances in the group's target groups, and replacements that take time.

AWS: an Auto Scaling group registers every instance that enters InService in each of its target
groups (TargetGroupARNs), whenever it was launched (at creation, a higher desired capacity, a
replacement for an instance terminated or found unhealthy), and deregisters an instance that is
terminated, detached or put in standby.
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-lifecycle.html
An instance that stops running without the group's doing (EC2 TerminateInstances, StopInstances)
is noticed at the group's next periodic health check (EC2 status checks: any state but `running`
is unhealthy), marked Unhealthy and Terminating, deregistered, and only then replaced; the new
target is `initial` until it passes the target group's health checks.
UpdateAutoScalingGroup keeps a mixed instances policy it is not given (see the end).
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/replace-unhealthy-instance.html
moto: registers the group's instances when the desired capacity is set, but never deregisters
one; replaces an instance terminated through EC2 inside the TerminateInstances call (no moment
where the group is short) and never registers that replacement; never notices a stopped one.
Here:
- every time moto refreshes a group's target groups (creation, desired capacity, attach, detach,
  standby, TerminateInstanceInAutoScalingGroup) and after EC2 TerminateInstances, the target
  groups are brought to the group's InService, running instances: new ones registered, ones the
  group registered that left it deregistered (a terminated or Terminating one shows `draining`).
- EC2 TerminateInstances or StopInstances on an InService member: at once the member shows
  LifecycleState Terminating / HealthStatus Unhealthy (it no longer counts as in service) and
  its target is deregistered; FTCTL_ASG_REPLACE_SECONDS (2) later a timer thread retires it
  (terminating it in EC2 if it was only stopped) and lets moto's own set_desired_capacity launch
  what the group lacks, which registers the replacement; its target is `initial` for
  FTCTL_TG_INITIAL_SECONDS (1), then `healthy`. FTCTL_ASG_REPLACE_STOPPED=0 leaves a stopped
  member InService (moto's behaviour). FTCTL_ASG_REPLACE_SECONDS=0: moto's instant replacement
  of a terminated member (registered at once), and stopped members are left alone.
  TerminateInstanceInAutoScalingGroup, capacity changes, detach and delete act at once, as the
  AWS API actions do. A group deleted meanwhile or POST /moto-api/reset cancels the replacement.
- moto has no locking: Auto Scaling, EC2 and ELBv2 requests, the reset and the timers share one
  lock, so a timer never changes a group, instance or target group while a request reads it.
"""

import functools
import logging
import os
import threading
import time
from typing import Any

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.ec2.responses import EC2Response
from moto.ec2.responses.instances import InstanceResponse
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.elbv2.responses import ELBV2Response
from moto.moto_api._internal.models import MotoAPIBackend

log = logging.getLogger(__name__)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        value = float(raw)
        if value >= 0:
            return value
    except ValueError:
        pass
    log.warning("%s=%r is not a number of seconds >= 0: using %s", name, raw, default)
    return default


REPLACE_SECONDS = _seconds("FTCTL_ASG_REPLACE_SECONDS", 2.0)
INITIAL_SECONDS = _seconds("FTCTL_TG_INITIAL_SECONDS", 1.0)
REPLACE_STOPPED = os.environ.get("FTCTL_ASG_REPLACE_STOPPED", "1").strip() != "0"

LOCK = threading.RLock()
_timers: set[threading.Timer] = set()  # pending replacements, cancelled by a reset


def _locked(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return fn(*args, **kwargs)

    return wrapper


for _response in (AutoScalingResponse, EC2Response, ELBV2Response):
    _response.call_action = _locked(_response.call_action)  # type: ignore[method-assign]


def _terminating(group: FakeAutoScalingGroup) -> list[Any]:
    return [s for s in group.instance_states if s.lifecycle_state == "Terminating"]


def sync_target_groups(self: AutoScalingBackend, group_name: str) -> None:
    group = self.autoscaling_groups[group_name]
    members = {s.instance.id for s in group.active_instances()}  # InService (not Standby)
    leaving = {s.instance.id for s in _terminating(group)}
    # Only a running instance can be registered (ELBv2 refuses others); a member that is merely
    # stopped and not being replaced stays registered (it shows `unused`).
    running = {i for i in members if self.ec2_backend.get_instance_by_id(i).state == "running"}
    # target group arn -> ids this group registered there
    registered = group.__dict__.setdefault("ftctl_registered", {})
    for arn in list(registered):
        if arn not in group.target_group_arns:
            del registered[arn]  # detached: moto deregistered the group's instances itself
    for arn in group.target_group_arns:
        target_group = self.elbv2_backend.target_groups.get(arn)
        if target_group is None:
            continue  # deleted before the group, as moto tolerates
        ours = registered.setdefault(arn, set())
        new = running - set(target_group.targets)
        if new:
            target_group.register([{"Id": i, "Port": target_group.port} for i in sorted(new)])
        for instance_id in ours - members:
            if instance_id not in target_group.targets:
                continue
            instance = self.ec2_backend.get_instance_by_id(instance_id)
            if (
                instance is None
                or instance.state in ("shutting-down", "terminated")
                or instance_id in leaving
            ):
                target_group.deregister_terminated_instances([instance_id])  # `draining`
            else:
                target_group.deregister([{"Id": instance_id}])
        registered[arn] = members & set(target_group.targets)


AutoScalingBackend.update_attached_target_groups = sync_target_groups


def _sync_all(backend: AutoScalingBackend) -> None:
    for name in list(backend.autoscaling_groups):
        backend.update_attached_elbs(name)
        backend.update_attached_target_groups(name)


# A Terminating member is no longer counted by moto (active_instances() is InService only);
# moto's set_desired_capacity must also not pick it for a scale-in, so it is hidden meanwhile.
_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity


def set_desired_capacity_sparing_terminating(
    self: FakeAutoScalingGroup, new_capacity: int | None
) -> None:
    leaving = _terminating(self)
    if not leaving:
        return _set_desired_capacity(self, new_capacity)
    self.instance_states = [s for s in self.instance_states if s not in leaving]
    try:
        _set_desired_capacity(self, new_capacity)
    finally:
        self.instance_states = self.instance_states + leaving


FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity_sparing_terminating


def _retire(backend: AutoScalingBackend, group: FakeAutoScalingGroup, states: list[Any]) -> None:
    """Ends Terminating members: terminated in EC2 (a stopped one is still there), out of the group."""
    alive = [
        s.instance.id
        for s in states
        if s.instance.state not in ("shutting-down", "terminated")
    ]
    if alive:
        backend.ec2_backend.terminate_instances(alive)
        backend.elbv2_backend.notify_terminate_instances(alive)
    group.instance_states = [s for s in group.instance_states if s not in states]


def _replace_due(backend: AutoScalingBackend, group: FakeAutoScalingGroup) -> None:
    try:
        with LOCK:
            if backend.__dict__.get("autoscaling_groups", {}).get(group.name) is not group:
                log.info("group %s is gone: no replacement", group.name)
                return
            now = time.monotonic()
            due = [s for s in _terminating(group) if getattr(s, "ftctl_replace_at", 0) <= now + 0.05]
            if not due:
                return
            _retire(backend, group, due)
            before = {s.instance.id for s in group.instance_states}
            # moto's own path: launches desired - InService instances, then refreshes the
            # group's load balancers and target groups (registering the replacements).
            group.set_desired_capacity(group.desired_capacity)
            new = {s.instance.id for s in group.instance_states} - before
            if new and INITIAL_SECONDS > 0:
                until = time.monotonic() + INITIAL_SECONDS
                for arn in group.target_group_arns:
                    target_group = backend.elbv2_backend.target_groups.get(arn)
                    if target_group is None:
                        continue
                    initial = target_group.__dict__.setdefault("ftctl_initial_until", {})
                    for instance_id in new & set(target_group.targets):
                        initial[instance_id] = until
    except Exception:  # a timer must never take the server down
        log.exception("replacing instances of group %s failed", group.name)


def _schedule(backend: AutoScalingBackend, group: FakeAutoScalingGroup) -> None:
    def fire() -> None:
        with LOCK:
            _timers.discard(timer)
        _replace_due(backend, group)

    timer = threading.Timer(REPLACE_SECONDS, fire)
    timer.daemon = True
    _timers.add(timer)
    timer.start()


def lose_instances(self: AutoScalingBackend, instance_ids: list[str], terminated: bool) -> None:
    """InService members that stopped running: Terminating/Unhealthy now, replaced later."""
    ids = set(instance_ids)
    deadline = time.monotonic() + REPLACE_SECONDS
    for group in list(self.autoscaling_groups.values()):
        lost = []
        for state in group.instance_states:
            if state.instance.id in ids and state.lifecycle_state == "InService":
                state.lifecycle_state = "Terminating"
                state.health_status = "Unhealthy"
                state.ftctl_replace_at = deadline
                lost.append(state)
        if terminated:
            # Members not in service (Standby) leave the group at once without a replacement,
            # as moto does.
            group.instance_states = [
                s
                for s in group.instance_states
                if s.instance.id not in ids or s.lifecycle_state == "Terminating"
            ]
        if lost:
            _schedule(self, group)
    _sync_all(self)


AutoScalingBackend.ftctl_lose_instances = lose_instances

_notify_terminate_instances = AutoScalingBackend.notify_terminate_instances


def notify_terminate_instances_and_sync(self: AutoScalingBackend, instance_ids: list[str]) -> None:
    # Called by EC2 TerminateInstances only (the group's own terminations go to the EC2 backend).
    if REPLACE_SECONDS > 0:
        self.ftctl_lose_instances(instance_ids, terminated=True)
        return
    # moto drops the terminated instances from their groups and launches replacements at once,
    # refreshing classic load balancers only.
    _notify_terminate_instances(self, instance_ids)
    for name in list(self.autoscaling_groups):
        self.update_attached_target_groups(name)


AutoScalingBackend.notify_terminate_instances = notify_terminate_instances_and_sync

_stop_instances = InstanceResponse.stop_instances


def stop_instances_and_notify(self: InstanceResponse) -> Any:
    result = _stop_instances(self)
    if REPLACE_SECONDS > 0 and REPLACE_STOPPED:
        from moto.autoscaling import autoscaling_backends

        ids = [
            i
            for i in self._get_param("InstanceIds", [])
            if (instance := self.ec2_backend.get_instance_by_id(i)) and instance.state == "stopped"
        ]
        if ids:
            autoscaling_backends[self.current_account][self.region].ftctl_lose_instances(
                ids, terminated=False
            )
    return result


InstanceResponse.stop_instances = stop_instances_and_notify

_delete_auto_scaling_group = AutoScalingBackend.delete_auto_scaling_group


def delete_auto_scaling_group_retiring(self: AutoScalingBackend, group_name: str) -> None:
    # A member waiting for its replacement is terminated with the group (AWS had already begun
    # terminating it); the pending timer then finds the group gone.
    group = self.autoscaling_groups.get(group_name)
    if group is not None and _terminating(group):
        _retire(self, group, _terminating(group))
    _delete_auto_scaling_group(self, group_name)


AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group_retiring

_health_for = FakeTargetGroup.health_for


def health_for_with_initial(self: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> Any:
    status = _health_for(self, target, ec2_backend)
    initial = self.__dict__.get("ftctl_initial_until", {})
    until = initial.get(target["Id"])
    if until is None:
        return status
    if time.monotonic() >= until or target["Id"] not in self.targets:
        initial.pop(target["Id"], None)
        return status
    if status.status != "healthy":
        return status
    return FakeHealthStatus(
        status.instance_id,
        status.port,
        status.health_check_port,
        "initial",
        "Elb.RegistrationInProgress",
        "Target registration is in progress",
    )


FakeTargetGroup.health_for = health_for_with_initial

_reset = MotoAPIBackend.reset


def reset_cancelling_replacements(self: MotoAPIBackend) -> None:
    with LOCK:
        for timer in list(_timers):
            timer.cancel()
        _timers.clear()
        _reset(self)


MotoAPIBackend.reset = reset_cancelling_replacements


# UpdateAutoScalingGroup changes only what it is given: a request without LaunchTemplate,
# LaunchConfigurationName or MixedInstancesPolicy (say, only MaxSize) keeps the group's mixed
# instances policy ("Any properties that you don't specify are not changed by this update
# request", https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html).
# moto set the policy to None, and the group then described neither a launch template nor a
# policy.
_update_group = FakeAutoScalingGroup.update


def update_keeping_launch_settings(self: FakeAutoScalingGroup, *args: Any, **kwargs: Any) -> None:
    given = any(
        kwargs.get(k) for k in ("launch_config_name", "launch_template", "mixed_instances_policy")
    )
    kept = None if given else getattr(self, "mixed_instances_policy", None)
    _update_group(self, *args, **kwargs)
    if kept:
        self.mixed_instances_policy = kept


FakeAutoScalingGroup.update = update_keeping_launch_settings
