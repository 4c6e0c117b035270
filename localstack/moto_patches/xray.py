"""X-Ray groups and sampling rules, with their tags.

AWS: X-Ray (restJson, every operation a POST to its own path) keeps groups (a name, a filter
expression, an Insights configuration, an ARN `arn:aws:xray:REGION:ACCOUNT:group/NAME/ID`) and
sampling rules (RuleARN `arn:aws:xray:REGION:ACCOUNT:sampling-rule/NAME`, CreatedAt/ModifiedAt),
both taggable; every account has a `Default` group and a `Default` sampling rule (priority 10000,
one request a second and 5 % of the rest), which cannot be made again or deleted. Unknown and
duplicate names are InvalidRequestException; a tag call on an unknown ARN is
ResourceNotFoundException (404).
  https://docs.aws.amazon.com/xray/latest/api/API_CreateGroup.html (GetGroup, GetGroups,
  UpdateGroup, DeleteGroup), .../API_CreateSamplingRule.html (GetSamplingRules,
  UpdateSamplingRule, DeleteSamplingRule), .../API_TagResource.html (UntagResource,
  ListTagsForResource)
moto: its X-Ray backend keeps trace segments only; these paths are not routed (HTTP 404).
Here: the paths are routed to XRayResponse (moto takes the action from the path) and the
backend keeps groups, rules and tags. The not-found wording is AWS's ("Group not found",
"Sampling rule does not exist", which Terraform's provider matches); the other messages are ours.
"""

import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random
from moto.xray import urls as xray_urls
from moto.xray.models import XRayBackend
from moto.xray.responses import XRayResponse


class InvalidRequest(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidRequestException", message)


class ResourceNotFound(JsonRESTError):
    code = 404

    def __init__(self, arn: str):
        super().__init__("ResourceNotFoundException", f"Resource {arn} not found.")


DEFAULT = "Default"

# --- the backend's state: groups and rules by name, tags by ARN -------------------------------

_init = XRayBackend.__init__


def init_with_groups_and_rules(self: XRayBackend, region_name: str, account_id: str) -> None:
    _init(self, region_name, account_id)
    prefix = f"arn:aws:xray:{region_name}:{account_id}"
    self.ftctl_groups = {
        DEFAULT: {
            "GroupName": DEFAULT,
            "GroupARN": f"{prefix}:group/{DEFAULT}",
            "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False},
        }
    }
    now = unix_time()
    self.ftctl_rules = {
        DEFAULT: {
            "SamplingRule": {
                "RuleName": DEFAULT,
                "RuleARN": f"{prefix}:sampling-rule/{DEFAULT}",
                "ResourceARN": "*",
                "Priority": 10000,
                "FixedRate": 0.05,
                "ReservoirSize": 1,
                "ServiceName": "*",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "Version": 1,
                "Attributes": {},
            },
            "CreatedAt": now,
            "ModifiedAt": now,
        }
    }
    self.ftctl_tags = {}  # ARN -> {key: value}


XRayBackend.__init__ = init_with_groups_and_rules


def _group(backend: XRayBackend, name: str | None, arn: str | None) -> dict[str, Any]:
    for group in backend.ftctl_groups.values():
        if (name and group["GroupName"] == name) or (arn and group["GroupARN"] == arn):
            return group
    raise InvalidRequest("Group not found")


def _rule(backend: XRayBackend, name: str | None, arn: str | None) -> dict[str, Any]:
    # "Specify a rule by either name or ARN, but not both."
    if bool(name) == bool(arn):
        raise InvalidRequest("Specify either RuleName or RuleARN, but not both.")
    for record in backend.ftctl_rules.values():
        rule = record["SamplingRule"]
        if (name and rule["RuleName"] == name) or (arn and rule["RuleARN"] == arn):
            return record
    raise InvalidRequest("Sampling rule does not exist")


def _insights(config: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    merged.update({k: bool(v) for k, v in (config or {}).items() if v is not None})
    # "Notifications can only be enabled on a group with InsightsEnabled set to true."
    if merged["NotificationsEnabled"] and not merged["InsightsEnabled"]:
        raise InvalidRequest("Notifications can only be enabled on a group with Insights enabled.")
    return merged


def _tag(backend: XRayBackend, arn: str, tags: list[dict[str, str]] | None) -> None:
    backend.ftctl_tags.setdefault(arn, {}).update({t["Key"]: t["Value"] for t in tags or []})


def _tagged(backend: XRayBackend, arn: str) -> dict[str, str]:
    known = [g["GroupARN"] for g in backend.ftctl_groups.values()]
    known += [r["SamplingRule"]["RuleARN"] for r in backend.ftctl_rules.values()]
    if arn not in known:
        raise ResourceNotFound(arn)
    return backend.ftctl_tags.setdefault(arn, {})


# --- the handlers: moto names the action after the path (/Groups -> groups) -------------------

Reply = tuple[str, dict[str, Any]]  # body, headers (with the status)


def _json(body: dict[str, Any]) -> Reply:
    return json.dumps(body), {"status": 200, "Content-Type": "application/json"}


def create_group(self: XRayResponse) -> Reply:
    backend, name = self.xray_backend, self._get_param("GroupName")
    if not name or len(name) > 32:
        raise InvalidRequest("GroupName must be 1 to 32 characters long.")
    if name in backend.ftctl_groups:
        raise InvalidRequest("Group already exists")
    arn_id = mock_random.get_random_string(length=52, include_digits=True).upper()
    group = {
        "GroupName": name,
        "GroupARN": f"arn:aws:xray:{self.region}:{self.current_account}:group/{name}/{arn_id}",
        "InsightsConfiguration": _insights(
            self._get_param("InsightsConfiguration"),
            {"InsightsEnabled": False, "NotificationsEnabled": False},
        ),
    }
    if self._get_param("FilterExpression") is not None:
        group["FilterExpression"] = self._get_param("FilterExpression")
    backend.ftctl_groups[name] = group
    _tag(backend, group["GroupARN"], self._get_param("Tags"))
    return _json({"Group": group})


def get_group(self: XRayResponse) -> Reply:
    group = _group(self.xray_backend, self._get_param("GroupName"), self._get_param("GroupARN"))
    return _json({"Group": group})


def groups(self: XRayResponse) -> Reply:  # GetGroups: POST /Groups
    return _json({"Groups": list(self.xray_backend.ftctl_groups.values())})


def update_group(self: XRayResponse) -> Reply:
    group = _group(self.xray_backend, self._get_param("GroupName"), self._get_param("GroupARN"))
    if self._get_param("FilterExpression") is not None:
        group["FilterExpression"] = self._get_param("FilterExpression")
    if self._get_param("InsightsConfiguration") is not None:
        group["InsightsConfiguration"] = _insights(
            self._get_param("InsightsConfiguration"), group["InsightsConfiguration"]
        )
    return _json({"Group": group})


def delete_group(self: XRayResponse) -> Reply:
    backend = self.xray_backend
    group = _group(backend, self._get_param("GroupName"), self._get_param("GroupARN"))
    if group["GroupName"] == DEFAULT:
        raise InvalidRequest("The Default group cannot be deleted.")
    del backend.ftctl_groups[group["GroupName"]]
    backend.ftctl_tags.pop(group["GroupARN"], None)
    return _json({})


RULE_REQUIRED = ["ResourceARN", "Priority", "FixedRate", "ReservoirSize", "ServiceName",
                 "ServiceType", "Host", "HTTPMethod", "URLPath", "Version"]  # fmt: skip


def _check_rule(rule: dict[str, Any]) -> None:
    # Ranges from the SamplingRule data type (API_SamplingRule.html).
    if rule.get("Priority") is not None and not 1 <= rule["Priority"] <= 9999:
        raise InvalidRequest("Priority must be between 1 and 9999.")
    if rule.get("FixedRate") is not None and not 0 <= rule["FixedRate"] <= 1:
        raise InvalidRequest("FixedRate must be between 0 and 1.")
    if rule.get("ReservoirSize") is not None and rule["ReservoirSize"] < 0:
        raise InvalidRequest("ReservoirSize must not be negative.")


def create_sampling_rule(self: XRayResponse) -> Reply:
    backend = self.xray_backend
    rule = dict(self._get_param("SamplingRule") or {})
    name = rule.get("RuleName")
    if not name or len(name) > 32:
        raise InvalidRequest("RuleName must be 1 to 32 characters long.")
    missing = [field for field in RULE_REQUIRED if rule.get(field) is None]
    if missing:
        raise InvalidRequest(f"SamplingRule is missing {', '.join(missing)}.")
    _check_rule(rule)
    if name in backend.ftctl_rules:
        raise InvalidRequest("Sampling rule already exists")
    rule["RuleARN"] = f"arn:aws:xray:{self.region}:{self.current_account}:sampling-rule/{name}"
    rule.setdefault("Attributes", {})
    now = unix_time()
    record = {"SamplingRule": rule, "CreatedAt": now, "ModifiedAt": now}
    backend.ftctl_rules[name] = record
    _tag(backend, rule["RuleARN"], self._get_param("Tags"))
    return _json({"SamplingRuleRecord": record})


def get_sampling_rules(self: XRayResponse) -> Reply:
    return _json({"SamplingRuleRecords": list(self.xray_backend.ftctl_rules.values())})


def update_sampling_rule(self: XRayResponse) -> Reply:
    update = self._get_param("SamplingRuleUpdate") or {}
    change = {k: v for k, v in update.items() if v is not None}
    record = _rule(self.xray_backend, change.pop("RuleName", None), change.pop("RuleARN", None))
    _check_rule(change)
    record["SamplingRule"].update(change)
    record["ModifiedAt"] = unix_time()
    return _json({"SamplingRuleRecord": record})


def delete_sampling_rule(self: XRayResponse) -> Reply:
    backend = self.xray_backend
    record = _rule(backend, self._get_param("RuleName"), self._get_param("RuleARN"))
    rule = record["SamplingRule"]
    if rule["RuleName"] == DEFAULT:
        raise InvalidRequest("The Default sampling rule cannot be deleted.")
    del backend.ftctl_rules[rule["RuleName"]]
    backend.ftctl_tags.pop(rule["RuleARN"], None)
    return _json({"SamplingRuleRecord": record})


def tag_resource(self: XRayResponse) -> Reply:
    tags = _tagged(self.xray_backend, self._get_param("ResourceARN"))
    tags.update({t["Key"]: t["Value"] for t in self._get_param("Tags") or []})
    return _json({})


def untag_resource(self: XRayResponse) -> Reply:
    tags = _tagged(self.xray_backend, self._get_param("ResourceARN"))
    for key in self._get_param("TagKeys") or []:
        tags.pop(key, None)
    return _json({})


def list_tags_for_resource(self: XRayResponse) -> Reply:
    tags = _tagged(self.xray_backend, self._get_param("ResourceARN"))
    return _json({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})


for _handler in [
    create_group,
    get_group,
    groups,
    update_group,
    delete_group,
    create_sampling_rule,
    get_sampling_rules,
    update_sampling_rule,
    delete_sampling_rule,
    tag_resource,
    untag_resource,
    list_tags_for_resource,
]:
    if not hasattr(XRayResponse, _handler.__name__):
        setattr(XRayResponse, _handler.__name__, _handler)

# The paths (botocore's xray service-2.json: requestUri of each operation). moto builds its
# Flask routes from url_paths when the first X-Ray request arrives, so adding them here suffices.
PATHS = ["CreateGroup", "GetGroup", "Groups", "UpdateGroup", "DeleteGroup", "CreateSamplingRule",
         "GetSamplingRules", "UpdateSamplingRule", "DeleteSamplingRule", "TagResource",
         "UntagResource", "ListTagsForResource"]  # fmt: skip
for _path in PATHS:
    xray_urls.url_paths.setdefault("{0}/" + _path + "$", XRayResponse.dispatch)
