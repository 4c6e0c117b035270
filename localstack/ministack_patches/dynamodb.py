"""DynamoDB global tables: replication stops while a replica's resource policy denies the
replication role, and resumes from where it stopped once the deny is gone.

AWS (Amazon DynamoDB Developer Guide, "DynamoDB global tables security"): a resource policy on a
replica that denies the service-linked role AWSServiceRoleForDynamoDBReplication the permissions
it needs stops replication to and from that replica (status REPLICATION_NOT_AUTHORIZED); FIS's
aws:dynamodb:global-table-pause-replication works this way ("AWS FIS Actions reference"), and
replication "will resume from the point it was paused" ("Cross-Region: Connectivity" scenario).

ministack 1.5.33 applied every write to every replica at once, whatever the policies said.

Here a write whose source or destination replica denies the replication role `PutItem` (a Deny
statement naming the role, whose `DateLessThan` `aws:CurrentTime`, if any, is still ahead) is
held back, in order, and delivered by the first DynamoDB request after the deny is gone.
"""

import datetime
import json

from ministack.services import dynamodb as ddb

_ROLE = "AWSServiceRoleForDynamoDBReplication"
_original_replicate = ddb._replicate_write
# (account, source region, destination region, table name, event, old item, new item), in order.
_held = []


def _expiry(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _denied(account, region, name):
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
    entry = ddb._resource_policies.get_scoped(account, region, arn)
    if not entry:
        return False
    try:
        doc = json.loads(entry["Policy"])
    except (TypeError, ValueError):
        return False
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    now = datetime.datetime.now(datetime.timezone.utc)
    for s in statements:
        if s.get("Effect") != "Deny" or _ROLE not in json.dumps(s.get("Principal", "")):
            continue
        actions = s.get("Action") or []
        if isinstance(actions, str):
            actions = [actions]
        if not any(a in ("dynamodb:PutItem", "dynamodb:*", "*") for a in actions):
            continue
        until = ((s.get("Condition") or {}).get("DateLessThan") or {}).get("aws:CurrentTime")
        if until is None:
            return True
        expiry = _expiry(until)
        if expiry is None or now < expiry:
            return True
    return False


def _deliver(account, source, destination, name, event, old, new):
    """One write from `source` applied to `destination`, as ministack replicates it."""
    with ddb.request_scope(account, source):
        pair = {"TableName": name, "_global_regions": [source, destination]}
        _original_replicate(pair, event, old, new)


def _deliver_held():
    global _held
    waiting = []
    for write in _held:
        account, source, destination, name = write[:4]
        # A later write between the same pair keeps its place behind an earlier held one.
        stuck = any(w[:4] == write[:4] for w in waiting)
        if stuck or _denied(account, source, name) or _denied(account, destination, name):
            waiting.append(write)
        else:
            _deliver(*write)
    _held = waiting


def _replicate_write(table, event_name, old_item, new_item):
    regions = ddb._replica_group(table)
    if not regions:
        return
    _deliver_held()
    account, home, name = ddb.get_account_id(), ddb.get_region(), table["TableName"]
    for region in regions:
        if region == home:
            continue
        write = (account, home, region, name, event_name, old_item, new_item)
        behind = any(w[:4] == write[:4] for w in _held)
        if behind or _denied(account, home, name) or _denied(account, region, name):
            _held.append(write)
        else:
            _deliver(*write)


def _delivering(handler):
    def wrapped(data):
        _deliver_held()
        out = handler(data)
        _deliver_held()
        return out

    return wrapped


ddb._replicate_write = _replicate_write
# handle_request looks its handlers up in the module on every request.
for _name in (
    "_get_item",
    "_batch_get_item",
    "_query",
    "_scan",
    "_put_item",
    "_delete_item",
    "_batch_write_item",
    "_describe_table",
    "_put_resource_policy",
    "_delete_resource_policy",
):
    setattr(ddb, _name, _delivering(getattr(ddb, _name)))
