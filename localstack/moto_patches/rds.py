"""RDS DB parameter groups.

- ResetDBParameterGroup puts parameters back to the engine's defaults: those named, or with
  ResetAllParameters every one (RDS API reference, ResetDBParameterGroup:
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ResetDBParameterGroup.html,
  "To reset specific parameters, provide a list of the following: ParameterName and
  ApplyMethod"). moto does not implement it (HTTP 500). Here a reset parameter is no longer
  among those the group sets, so DescribeDBParameters with Source=user stops listing it, as on
  AWS.
"""

from moto.core.responses import ActionResult
from moto.rds.exceptions import DBParameterGroupNotFoundError
from moto.rds.responses import RDSResponse


def reset_db_parameter_group(self):
    name = self.params.get("DBParameterGroupName")
    group = self.backend.db_parameter_groups.get(name)
    if group is None:
        raise DBParameterGroupNotFoundError(name)
    if str(self.params.get("ResetAllParameters", "")).lower() == "true":
        group.parameters.clear()
    else:
        for param in self.params.get("Parameters", []):
            group.parameters.pop(param.original_dict().get("ParameterName"), None)
    return ActionResult({"DBParameterGroupName": name})


RDSResponse.reset_db_parameter_group = reset_db_parameter_group
