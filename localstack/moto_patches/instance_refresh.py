"""Auto Scaling instance refresh: StartInstanceRefresh, DescribeInstanceRefreshes,
CancelInstanceRefresh and RollbackInstanceRefresh, replacing a group's instances in batches.

AWS (Auto Scaling API reference: StartInstanceRefresh, RefreshPreferences, InstanceRefresh,
DescribeInstanceRefreshes, CancelInstanceRefresh, RollbackInstanceRefresh; user guide
"Understand the default values for an instance refresh"):
- StartInstanceRefresh (Strategy Rolling) answers an InstanceRefreshId; while one is Pending,
  InProgress, Cancelling, RollbackInProgress or Baking a second start fails with
  InstanceRefreshInProgress.
- It replaces the instances in batches that keep MinHealthyPercentage (default 90) of the
  desired capacity in service (rounded up) and at most MaxHealthyPercentage (100-200, default
  100): above 100 it launches new instances before it terminates old ones. After each batch it
  waits InstanceWarmup (default: the group's health check grace period) once the new
  instances are in service. At each of CheckpointPercentages it waits CheckpointDelay (default
  3600 s). SkipMatching leaves instances already on the desired configuration.
- With an AlarmSpecification, an alarm in ALARM fails the refresh; with AutoRollback the group
  is then rolled back (RollbackInProgress, RollbackSuccessful). AutoRollback needs a
  DesiredConfiguration (else StartInstanceRefresh refuses it), and RollbackInstanceRefresh with
  none fails with IrreversibleInstanceRefresh.
- Once Successful, the group takes the DesiredConfiguration's launch template.
- CancelInstanceRefresh with nothing active fails with ActiveInstanceRefreshNotFound; a cancel
  stops after the batch in flight (Cancelling, then Cancelled).
- Each instance reports the launch template version it was launched with.
moto 5.2.5: none of the four actions, and every instance reports the template's current
default version.
Here: each instance records the version it was launched with (the group's version, or the
refresh's desired one); a refresh runs on a timer thread under the Auto Scaling patch's lock,
its waits scaled by FTCTL_REFRESH_TIME_SCALE (0.01: a 120 s warm-up takes 1.2 s). New instances
are launched from the template's default version's data (moto's launch path), recorded with
the desired version. Alarms are read from the CloudWatch at FTCTL_CLOUDWATCH_URL (localstack/up
points it at ministack, which holds the tiers' alarms); without it, alarms are not watched.
"""

import datetime
import logging
import math
import os
import threading
import time
import uuid
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult

from . import autoscaling as asg

log = logging.getLogger(__name__)

TIME_SCALE = asg._seconds("FTCTL_REFRESH_TIME_SCALE", 0.01)
ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


class InstanceRefreshInProgress(AutoscalingClientError):
    code = "InstanceRefreshInProgress"


class ActiveInstanceRefreshNotFound(AutoscalingClientError):
    code = "ActiveInstanceRefreshNotFound"


class IrreversibleInstanceRefresh(AutoscalingClientError):
    code = "IrreversibleInstanceRefresh"


# moto's error serializer finds the service by the module an exception is defined in.
for _error in (InstanceRefreshInProgress, ActiveInstanceRefreshNotFound, IrreversibleInstanceRefresh):
    _error.__module__ = "moto.autoscaling.exceptions"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _version_of_group(group: FakeAutoScalingGroup) -> str | None:
    lt = group.ec2_launch_template
    if lt is None:
        return None
    wanted = getattr(group, "launch_template_version", None) or "$Default"
    if wanted == "$Default":
        return str(lt.default_version_number)
    if wanted == "$Latest":
        return str(lt.latest_version_number)
    return str(wanted)


# Each instance keeps the version it was launched with.
_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances


def replace_recording_version(self: FakeAutoScalingGroup, count: int, tags: dict[str, str]) -> None:
    before = {id(s) for s in self.instance_states}
    _replace(self, count, tags)
    version = getattr(self, "ftctl_launch_version", None) or _version_of_group(self)
    for state in self.instance_states:
        if id(state) not in before:
            state.ftctl_version = version


FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_recording_version

_launch_template = InstanceState.launch_template


def launch_template_as_launched(self: InstanceState) -> dict[str, Any] | None:
    lt = _launch_template.fget(self)  # type: ignore[attr-defined]
    version = getattr(self, "ftctl_version", None)
    if lt is not None and version is not None:
        lt["Version"] = version
    return lt


InstanceState.launch_template = property(launch_template_as_launched)  # type: ignore[assignment]


def _refreshes(backend: AutoScalingBackend) -> dict[str, list[dict[str, Any]]]:
    return backend.__dict__.setdefault("ftctl_refreshes", {})


def _alarms_firing(names: list[str], region: str) -> list[str]:
    url = os.environ.get("FTCTL_CLOUDWATCH_URL", "").strip()
    if not names or not url:
        return []
    import boto3

    client = boto3.client(
        "cloudwatch",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    answer = client.describe_alarms(AlarmNames=names)
    return [a["AlarmName"] for a in answer.get("MetricAlarms", []) if a.get("StateValue") == "ALARM"]


def _step_size(desired: int, prefs: dict[str, Any]) -> tuple[int, bool]:
    """How many instances one batch replaces, and whether it launches before it terminates."""
    low = int(prefs.get("MinHealthyPercentage", 90))
    high = int(prefs.get("MaxHealthyPercentage", 100))
    below = desired - math.ceil(desired * low / 100)
    above = math.floor(desired * (high - 100) / 100)
    return max(1, below + above), above > 0


def _run(backend: AutoScalingBackend, group: FakeAutoScalingGroup, refresh: dict[str, Any]) -> None:
    try:
        prefs = refresh["Preferences"]
        grace = getattr(group, "health_check_grace_period", None) or 0
        warmup = float(prefs.get("InstanceWarmup", grace)) * TIME_SCALE
        checkpoints = sorted(int(p) for p in prefs.get("CheckpointPercentages", []) or [])
        checkpoint_delay = float(prefs.get("CheckpointDelay", 3600)) * TIME_SCALE
        alarms = list((prefs.get("AlarmSpecification") or {}).get("Alarms", []) or [])
        region = backend.region_name
        with asg.LOCK:
            refresh["Status"] = "InProgress"
            target = refresh["ftctl_target"]
            skip = str(prefs.get("SkipMatching", "false")).lower() == "true"
            total = [
                s
                for s in group.instance_states
                if s.lifecycle_state == "InService"
                and not (skip and getattr(s, "ftctl_version", None) == target)
            ]
            old_ids = {s.instance.id for s in total}
            refresh["InstancesToUpdate"] = len(old_ids)
        done = 0
        rolled = False
        while True:
            firing = _alarms_firing(alarms, region)
            with asg.LOCK:
                if refresh["Status"] == "RollbackInProgress" and not rolled:
                    # From here on the instances this refresh launched are the ones to replace.
                    rolled = True
                    old_ids = set(refresh["ftctl_launched"])
                    refresh["ftctl_launched"] = set()
                    refresh["InstancesToUpdate"] = len(old_ids)
                    done = 0
                if backend.__dict__.get("autoscaling_groups", {}).get(group.name) is not group:
                    refresh.update(Status="Failed", StatusReason="The group was deleted.", EndTime=_now())
                    return
                if refresh.get("ftctl_cancel"):
                    refresh.update(Status="Cancelled", StatusReason="Cancelled.", EndTime=_now())
                    return
                rolling_back = refresh["Status"] == "RollbackInProgress"
                if firing and not rolling_back:
                    reason = f"Alarm {', '.join(firing)} in ALARM state."
                    if str(prefs.get("AutoRollback", "false")).lower() == "true":
                        refresh.update(Status="RollbackInProgress", StatusReason=reason)
                        _begin_rollback(refresh)
                        continue
                    refresh.update(Status="Failed", StatusReason=reason, EndTime=_now())
                    return
                left = [
                    s
                    for s in group.instance_states
                    if s.instance.id in old_ids and s.lifecycle_state == "InService"
                ]
                if not left:
                    if rolling_back:
                        refresh.update(Status="RollbackSuccessful", EndTime=_now(), InstancesToUpdate=0)
                        group.ftctl_launch_version = None
                        return
                    desired = refresh.get("DesiredConfiguration") or {}
                    if desired.get("LaunchTemplate"):
                        group._set_launch_configuration(None, desired["LaunchTemplate"], None)
                    group.ftctl_launch_version = None
                    refresh.update(
                        Status="Successful", PercentageComplete=100, InstancesToUpdate=0, EndTime=_now()
                    )
                    return
                size, launch_first = _step_size(group.desired_capacity or len(left), prefs)
                batch = left[:size]
                group.ftctl_launch_version = refresh["ftctl_launch"]
                tags = group.get_propagated_tags()
                if launch_first:
                    before = {s.instance.id for s in group.instance_states}
                    group.replace_autoscaling_group_instances(len(batch), tags)
                    refresh["ftctl_launched"] |= {s.instance.id for s in group.instance_states} - before
                    asg._sync_all(backend)
            if launch_first:
                time.sleep(warmup)
            with asg.LOCK:
                if backend.__dict__.get("autoscaling_groups", {}).get(group.name) is not group:
                    continue
                asg._retire(backend, group, batch)
                if not launch_first:
                    before = {s.instance.id for s in group.instance_states}
                    group.replace_autoscaling_group_instances(len(batch), group.get_propagated_tags())
                    refresh["ftctl_launched"] |= {s.instance.id for s in group.instance_states} - before
                asg._sync_all(backend)
                group.ftctl_launch_version = None
                done += len(batch)
                count = max(1, len(old_ids))
                percent = min(100, math.floor(100 * done / count))
                refresh["PercentageComplete"] = percent
                refresh["InstancesToUpdate"] = max(0, count - done)
            if not launch_first:
                time.sleep(warmup)
            reached = [p for p in checkpoints if p <= percent and p not in refresh["ftctl_checkpoints"]]
            if reached and percent < 100:
                with asg.LOCK:
                    refresh["ftctl_checkpoints"].update(reached)
                    refresh["StatusReason"] = f"Waiting at checkpoint {max(reached)}%."
                time.sleep(checkpoint_delay)
                with asg.LOCK:
                    refresh["StatusReason"] = ""
    except Exception:  # a refresh thread must never take the server down
        log.exception("instance refresh of %s failed", group.name)
        with asg.LOCK:
            refresh.update(Status="Failed", StatusReason="emulator error", EndTime=_now())


def _begin_rollback(refresh: dict[str, Any]) -> None:
    # The instances the refresh launched are replaced with the version the group had before.
    refresh["ftctl_launch"] = refresh["ftctl_previous"]
    refresh["ftctl_target"] = refresh["ftctl_previous"]


def _start(backend: AutoScalingBackend, group: FakeAutoScalingGroup, refresh: dict[str, Any]) -> None:
    thread = threading.Thread(target=_run, args=(backend, group, refresh), daemon=True)
    thread.start()


def _group(backend: AutoScalingBackend, name: str) -> FakeAutoScalingGroup:
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise ValidationError(f"AutoScalingGroup name not found - AutoScalingGroup {name} not found")
    return group


def _active(backend: AutoScalingBackend, name: str) -> dict[str, Any] | None:
    return next((r for r in _refreshes(backend).get(name, []) if r["Status"] in ACTIVE), None)


def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    group = _group(backend, name)
    if _active(backend, name):
        raise InstanceRefreshInProgress(
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh."
        )
    prefs = self._get_param("Preferences") or {}
    desired = self._get_param("DesiredConfiguration") or {}
    if str(prefs.get("AutoRollback", "false")).lower() == "true" and not desired:
        raise ValidationError("AutoRollback is not supported without a DesiredConfiguration.")
    low, high = int(prefs.get("MinHealthyPercentage", 90)), int(prefs.get("MaxHealthyPercentage", 100))
    if not (0 <= low <= 100 and 100 <= high <= 200 and high - low <= 100):
        raise ValidationError(
            "MinHealthyPercentage must be 0-100, MaxHealthyPercentage 100-200, and at most 100 apart."
        )
    previous = _version_of_group(group)
    target = previous
    lt = (desired or {}).get("LaunchTemplate") or {}
    if lt.get("Version") and group.ec2_launch_template is not None:
        v = lt["Version"]
        tmpl = group.ec2_launch_template
        target = str(
            tmpl.default_version_number if v == "$Default" else tmpl.latest_version_number if v == "$Latest" else v
        )
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": name,
        "Status": "Pending",
        "StatusReason": "",
        "StartTime": _now(),
        "PercentageComplete": 0,
        "InstancesToUpdate": len(group.instance_states),
        "Preferences": prefs,
        "Strategy": self._get_param("Strategy") or "Rolling",
        "ftctl_target": target,
        "ftctl_launch": target,
        "ftctl_previous": previous,
        "ftctl_launched": set(),
        "ftctl_checkpoints": set(),
    }
    if desired:
        refresh["DesiredConfiguration"] = desired
    _refreshes(backend).setdefault(name, []).insert(0, refresh)
    _start(backend, group, refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def _shown(refresh: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refresh.items() if not k.startswith("ftctl_") and v not in ("", None)}


def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    _group(backend, name)
    ids = self._get_param("InstanceRefreshIds") or []
    found = [r for r in _refreshes(backend).get(name, []) if not ids or r["InstanceRefreshId"] in ids]
    return ActionResult({"InstanceRefreshes": [_shown(r) for r in found]})


def _active_of_request(self: AutoScalingResponse) -> tuple[FakeAutoScalingGroup, dict[str, Any]]:
    """The request's group and its active refresh; ActiveInstanceRefreshNotFound without one."""
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    group = _group(backend, name)
    refresh = _active(backend, name)
    if refresh is None:
        raise ActiveInstanceRefreshNotFound("No in progress or pending Instance Refresh found for this group.")
    return group, refresh


def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    _, refresh = _active_of_request(self)
    refresh["Status"] = "Cancelling"
    refresh["ftctl_cancel"] = True
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def rollback_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    group, refresh = _active_of_request(self)
    if not refresh.get("DesiredConfiguration"):
        raise IrreversibleInstanceRefresh("The instance refresh has no desired configuration to roll back from.")
    refresh["Status"] = "RollbackInProgress"
    _begin_rollback(refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


AutoScalingResponse.start_instance_refresh = start_instance_refresh
AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh
AutoScalingResponse.rollback_instance_refresh = rollback_instance_refresh
