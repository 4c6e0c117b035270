"""Resource Groups Tagging API: GetResources lists CloudWatch alarms.

AWS (Resource Groups Tagging API Reference, "Services that support the Resource Groups Tagging
API": "The GetResources, GetTagKeys, and GetTagValues operations support all resource types",
IAM users and roles and Auto Scaling groups excepted): GetResources returns the tagged alarms of
the region it is called in, with their tags, filtered by `TagFilters` and by
`ResourceTypeFilters` in its `service:resource-type` form, `cloudwatch:alarm` for an alarm's ARN
`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`.

ministack 1.5.33 kept alarm tags in its CloudWatch module (ListTagsForResource answers them) but
had no collector for them in GetResources, so a tag filter never matched an alarm.

Here a `cloudwatch` collector yields each alarm of the caller's region (metric and composite) with
the tags CloudWatch holds for its ARN.
"""

from ministack.core.responses import get_region
from ministack.services import cloudwatch as cw
from ministack.services import tagging


def _collect_cloudwatch():
    region = get_region()
    for store in (cw._alarms, cw._composite_alarms):
        for alarm in list(store.values()):
            arn = alarm.get("AlarmArn", "")
            if arn.split(":")[3:4] != [region]:
                continue
            tags = cw._resource_tags.get(arn, {})
            yield arn, [{"Key": k, "Value": v} for k, v in tags.items()]


tagging._COLLECTORS["cloudwatch"] = _collect_cloudwatch
