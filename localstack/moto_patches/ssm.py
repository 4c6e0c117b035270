"""Run Command: commands that take time, CancelCommand and ListCommandInvocations.

AWS: SendCommand starts a command on each instance; its invocations are Pending, then InProgress
while the document runs, then Success, Failed or TimedOut. The AWSFIS-Run-* documents run for
their DurationSeconds parameter. CancelCommand "attempts to cancel the command": invocations not
finished go to Cancelling, then Cancelled (the instances given, or all); finished ones stay as
they are. ListCommandInvocations lists a command's invocations (by CommandId, InstanceId) with
their Status; an unknown command id is InvalidCommandId.
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html
  https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html (statuses)
moto: every command and invocation is Success the moment it is sent (so nothing could be
cancelled or watched while it runs); a command sent with InstanceIds and no Targets also ran on
every instance in the region (its target lookup with no filter matched all of them);
CancelCommand and ListCommandInvocations are not implemented.
Here: a command runs on exactly the InstanceIds given when no Targets are; a command whose
Parameters hold DurationSeconds is InProgress on each instance until that
many seconds after it was sent, then Success; CancelCommand turns the unfinished invocations
Cancelled (straight away: nothing runs to be stopped) and the command Cancelled when none is left
running; ListCommandInvocations answers from the same state. Nothing runs on the instances.
"""

import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ssm.models import Command, SimpleSystemManagerBackend
from moto.ssm.responses import SimpleSystemManagerResponse

FINAL = {"Success", "Failed", "Cancelled", "TimedOut"}

_init = Command.__init__


def init_with_duration(self: Command, *args: Any, **kwargs: Any) -> None:
    # moto extends the list it is given in place: keep a copy of what was asked for.
    asked = list(kwargs.get("instance_ids") or [])
    _init(self, *args, **kwargs)
    if not kwargs.get("targets"):
        self.instance_ids = list(dict.fromkeys(asked))
        self.invocations = [i for i in self.invocations if i["InstanceId"] in asked]
        self.target_count = len(self.instance_ids)
    try:
        seconds = int((self.parameters or {}).get("DurationSeconds", ["0"])[0])
    except (ValueError, TypeError, IndexError):
        seconds = 0
    self.ftctl_ends = self.requested_date_time + datetime.timedelta(seconds=max(seconds, 0))
    self.ftctl_cancelled: set[str] = set()
    ftctl_refresh(self)


def ftctl_refresh(self: Command) -> None:
    """Brings each invocation's status (and the command's) up to now."""
    running = utcnow() < self.ftctl_ends
    for inv in self.invocations:
        if inv["InstanceId"] in self.ftctl_cancelled:
            inv["Status"] = inv["StatusDetails"] = "Cancelled"
        elif running:
            inv["Status"] = "InProgress"
            inv["StatusDetails"] = "InProgress"
        else:
            inv["Status"] = inv["StatusDetails"] = "Success"
    states = {inv["Status"] for inv in self.invocations}
    if "InProgress" in states:
        self.status = self.status_details = "InProgress"
    elif states == {"Cancelled"}:
        self.status = self.status_details = "Cancelled"
    else:
        self.status = self.status_details = "Success"
    self.completed_count = sum(1 for inv in self.invocations if inv["Status"] in FINAL)


_response_object = Command.response_object


def response_object_now(self: Command) -> dict[str, Any]:
    ftctl_refresh(self)
    return _response_object(self)


_get_invocation = Command.get_invocation


def get_invocation_now(self: Command, instance_id: str, plugin_name: str | None) -> dict[str, Any]:
    ftctl_refresh(self)
    return _get_invocation(self, instance_id, plugin_name)


def cancel_command(
    self: SimpleSystemManagerBackend, command_id: str, instance_ids: list[str] | None
) -> None:
    command = self.get_command_by_id(command_id)  # InvalidCommandId when unknown
    ftctl_refresh(command)
    wanted = set(instance_ids or command.instance_ids)
    for inv in command.invocations:
        if inv["InstanceId"] in wanted and inv["Status"] not in FINAL:
            command.ftctl_cancelled.add(inv["InstanceId"])
    ftctl_refresh(command)


def list_command_invocations(
    self: SimpleSystemManagerBackend, command_id: str | None, instance_id: str | None
) -> list[dict[str, Any]]:
    commands = [self.get_command_by_id(command_id)] if command_id else self._commands
    out = []
    for command in commands:
        ftctl_refresh(command)
        for inv in command.invocations:
            if instance_id and inv["InstanceId"] != instance_id:
                continue
            out.append(
                {
                    "CommandId": command.command_id,
                    "InstanceId": inv["InstanceId"],
                    "Comment": command.comment,
                    "DocumentName": command.document_name,
                    "RequestedDateTime": command.requested_date_time,
                    "Status": inv["Status"],
                    "StatusDetails": inv["StatusDetails"],
                }
            )
    return out


def cancel_command_response(self: SimpleSystemManagerResponse) -> Any:
    self.ssm_backend.cancel_command(
        self._get_param("CommandId"), self._get_param("InstanceIds")
    )
    return ActionResult({})


def list_command_invocations_response(self: SimpleSystemManagerResponse) -> Any:
    invocations = self.ssm_backend.list_command_invocations(
        self._get_param("CommandId"), self._get_param("InstanceId")
    )
    return ActionResult({"CommandInvocations": invocations})


Command.__init__ = init_with_duration
Command.response_object = response_object_now
Command.get_invocation = get_invocation_now
SimpleSystemManagerBackend.cancel_command = cancel_command
SimpleSystemManagerBackend.list_command_invocations = list_command_invocations
SimpleSystemManagerResponse.cancel_command = cancel_command_response
SimpleSystemManagerResponse.list_command_invocations = list_command_invocations_response
