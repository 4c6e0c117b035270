"""CloudWatch ListDashboards over rpc-v2-cbor: `LastModified` is a timestamp.

AWS (CloudWatch API reference, ListDashboards and DashboardEntry): each entry's `LastModified` is
a Timestamp, which the Smithy RPC v2 CBOR protocol the Rust SDK speaks encodes as CBOR tag 1
(epoch seconds).

ministack 1.5.33 sent it as an ISO-8601 text string in CBOR answers (its other CBOR timestamps
are tag 1), so aws-sdk-cloudwatch failed to read any ListDashboards answer that had an entry.

Here the CBOR answer carries the same entries with `LastModified` as tag 1; the query and JSON
answers are unchanged.
"""

from ministack.services import cloudwatch as cw

_original_list_dashboards = cw._list_dashboards


def _list_dashboards(params, cbor_data, is_cbor, is_json=False):
    if not is_cbor:
        return _original_list_dashboards(params, cbor_data, is_cbor, is_json)
    prefix = cbor_data.get("DashboardNamePrefix", "")
    entries = []
    for name in sorted(cw._dashboards):
        if prefix and not name.startswith(prefix):
            continue
        dash = cw._dashboards[name]
        entries.append(
            {
                "DashboardName": dash["DashboardName"],
                "DashboardArn": dash["DashboardArn"],
                "Size": dash["Size"],
                "LastModified": cw._cbor_timestamp(dash["LastModified"]),
            }
        )
    return cw._cbor_ok({"DashboardEntries": entries})


cw._list_dashboards = _list_dashboards
