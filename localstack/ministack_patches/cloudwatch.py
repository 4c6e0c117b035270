"""CloudWatch: alarms watch their own metric, and ListDashboards over CBOR gives timestamps.

1. An alarm evaluates the one metric its namespace, name and dimensions identify. AWS
   (CloudWatch User Guide, "Metrics concepts", Dimensions): "CloudWatch treats each unique
   combination of dimensions as a separate metric". ministack 1.5.33 evaluated an alarm over the
   points of every metric of that namespace and name, whatever their dimensions, so a zero
   published for one Auto Scaling group put every other group's in-service alarm in ALARM (two
   deployments' tests running at once saw each other's metrics). Here only the points of the
   alarm's own dimension set count; the statistic, comparison, history, actions and composite
   parents are ministack's.

2. AWS (CloudWatch API reference, ListDashboards and DashboardEntry): each entry's
   `LastModified` is a Timestamp, which the Smithy RPC v2 CBOR protocol the Rust SDK speaks
   encodes as CBOR tag 1 (epoch seconds). ministack sent it as an ISO-8601 text string in CBOR
   answers (its other CBOR timestamps are tag 1), so aws-sdk-cloudwatch failed to read any
   ListDashboards answer that had an entry. Here the CBOR answer is ministack's JSON answer with
   `LastModified` as tag 1; the query and JSON answers are unchanged.
"""

import json
import time

from ministack.services import cloudwatch as cw

_original_evaluate_alarm = cw._evaluate_alarm


def _evaluate_alarm(alarm):
    namespace, name = alarm.get("Namespace"), alarm.get("MetricName")
    if not namespace or not name:
        return _original_evaluate_alarm(alarm)
    own = (namespace, name, cw._dims_key(cw._dims_from_list(alarm.get("Dimensions") or [])))
    points = list(cw._metrics.get(own) or [])
    window = alarm.get("Period", 60) * alarm.get("EvaluationPeriods", 1)
    recent = [p for p in points if p["Timestamp"] >= time.time() - window]
    if not recent:
        return
    statistic = alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average")
    value = cw._stat_value(cw._calc_stats(recent), statistic, recent)
    if value is None:
        return
    threshold = alarm.get("Threshold", 0)
    operator = alarm.get("ComparisonOperator", "")
    breaching = {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(operator, False)
    before, after = alarm["StateValue"], ("ALARM" if breaching else "OK")
    if before == after:
        return
    reason = f"Threshold Crossed: {statistic} {value} {operator} {threshold}"
    alarm["StateValue"] = after
    alarm["StateReason"] = reason
    alarm["StateUpdatedTimestamp"] = int(time.time())
    cw._record_history(alarm["AlarmName"], before, after, reason)
    cw._dispatch_alarm_actions(alarm, before, after, reason)
    cw._evaluate_parent_alarms(alarm)


cw._evaluate_alarm = _evaluate_alarm

_original_list_dashboards = cw._list_dashboards


def _list_dashboards(params, cbor_data, is_cbor, is_json=False):
    if not is_cbor:
        return _original_list_dashboards(params, cbor_data, is_cbor, is_json)
    # ministack's own JSON answer, its timestamps made CBOR timestamps.
    _, _, body = _original_list_dashboards(params, cbor_data, False, True)
    answer = json.loads(body)
    for entry in answer.get("DashboardEntries", []):
        entry["LastModified"] = cw._cbor_timestamp(entry["LastModified"])
    return cw._cbor_ok(answer)


cw._list_dashboards = _list_dashboards
