"""ElastiCache gaps ftctl runs into (moto models cache subnet groups in its own VPCs, which is why
ElastiCache is routed to moto).

- DeleteCacheSubnetGroup: moto answers "not implemented", so no deployment with a cache could be
  destroyed. Added with AWS's behaviour: the group goes, an unknown name is
  CacheSubnetGroupNotFoundFault, a group still used by a live cache is CacheSubnetGroupInUse.
- DeleteReplicationGroup: moto keeps the group listed as `deleting` for ever, where AWS removes it
  when the deletion finishes, so the same group id could never be created again. Here the
  deletion finishes at once (the reply still says `deleting`), as moto does for RDS instances.
- Members of a cluster-mode-off group: AWS makes NumCacheClusters nodes (or ReplicasPerNodeGroup
  + 1), placed in PreferredCacheClusterAZs in order; moto counted only ReplicasPerNodeGroup, so a
  group asked for with NumCacheClusters=2 had one member and nothing to fail over to. Here
  NumCacheClusters counts when ReplicasPerNodeGroup is not given.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
- TestFailover: moto has none (HTTP 500). Added below.
"""

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import (
    CacheSubnetGroupNotFound,
    ElastiCacheException,
    ReplicationGroupNotFound,
)
from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup
from moto.elasticache.responses import ElastiCacheResponse


class CacheSubnetGroupInUse(ElastiCacheException):
    code = "CacheSubnetGroupInUse"

    def __init__(self, name: str):
        super().__init__(f"Cache subnet group {name} is currently in use by a cache cluster.")


def delete_cache_subnet_group_backend(self, cache_subnet_group_name: str) -> None:
    if cache_subnet_group_name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(cache_subnet_group_name)
    users = list(self.replication_groups.values()) + list(self.cache_clusters.values())
    for user in users:
        live = getattr(user, "status", "available") != "deleting"
        if live and getattr(user, "cache_subnet_group_name", None) == cache_subnet_group_name:
            raise CacheSubnetGroupInUse(cache_subnet_group_name)
    del self.cache_subnet_groups[cache_subnet_group_name]


def delete_cache_subnet_group_response(self) -> ActionResult:
    self.elasticache_backend.delete_cache_subnet_group(
        cache_subnet_group_name=self._get_param("CacheSubnetGroupName"),
    )
    return EmptyResult()


_delete_replication_group = ElastiCacheBackend.delete_replication_group


def delete_replication_group_finishing(self, replication_group_id, retain_primary_cluster):
    group = _delete_replication_group(self, replication_group_id, retain_primary_cluster)
    self.replication_groups.pop(replication_group_id, None)
    return group


ElastiCacheBackend.delete_replication_group = delete_replication_group_finishing

if not hasattr(ElastiCacheBackend, "delete_cache_subnet_group"):
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group_backend
if not hasattr(ElastiCacheResponse, "delete_cache_subnet_group"):
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group_response


# --- members of a cluster-mode-off group ------------------------------------------------------

_set_members_disabled = ReplicationGroup._set_node_members_clusters_disabled


def set_members_disabled_counting_num_cache_clusters(self, **kwargs) -> None:
    # moto makes ReplicasPerNodeGroup + 1 nodes and ignores NumCacheClusters (it is passed
    # here as `NumCacheClusters or 1`): turn NumCacheClusters into the replica count it means.
    if not kwargs.get("replicas_per_node_group"):
        kwargs["replicas_per_node_group"] = max(int(kwargs["num_cache_clusters"]) - 1, 0)
    _set_members_disabled(self, **kwargs)


ReplicationGroup._set_node_members_clusters_disabled = (
    set_members_disabled_counting_num_cache_clusters
)


# --- TestFailover -----------------------------------------------------------------------------
# AWS: TestFailover(ReplicationGroupId, NodeGroupId) replaces the shard's primary by one of its
# replicas; an unknown group is ReplicationGroupNotFoundFault, an unknown shard
# NodeGroupNotFoundFault, a group not `available` (e.g. a previous failover still running) or
# without automatic failover InvalidReplicationGroupState. Afterwards a cluster-mode-off group
# lists the promoted node with CurrentRole `primary` and the old primary as `replica` (the
# PrimaryEndpoint keeps its address: it follows the primary). Cluster-mode-on groups report no
# roles (NodeGroupMember.CurrentRole is "only applicable for ... cluster mode disabled").
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_TestFailover.html
#   https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_NodeGroupMember.html
# moto: not implemented. Here the failover completes at once, as moto's other changes do.


class InvalidReplicationGroupState(ElastiCacheException):
    code = "InvalidReplicationGroupState"


class NodeGroupNotFound(ElastiCacheException):
    code = "NodeGroupNotFoundFault"

    def __init__(self, node_group_id: str):
        super().__init__(f"NodeGroup {node_group_id} not found.")


def test_failover_backend(self, replication_group_id: str, node_group_id: str):
    group = self.replication_groups.get(replication_group_id)
    if group is None:
        raise ReplicationGroupNotFound(replication_group_id)
    shard = next((ng for ng in group.node_groups if ng["node_group_id"] == node_group_id), None)
    if shard is None:
        raise NodeGroupNotFound(node_group_id)
    if group.status != "available":
        raise InvalidReplicationGroupState(
            f"Replication group {replication_group_id} is not in available state."
        )
    if group.automatic_failover != "enabled":
        raise InvalidReplicationGroupState(
            f"Replication group {replication_group_id} does not have automatic failover enabled."
        )
    members = shard["node_group_members"]
    if len(members) < 2:
        raise InvalidReplicationGroupState(
            f"Node group {node_group_id} of replication group {replication_group_id} has no "
            "replica to fail over to."
        )
    # Cluster mode off: the member whose CurrentRole is primary. Cluster mode on keeps no roles
    # on the members, so the primary is remembered per shard (the first member, `-001`, until a
    # failover).
    primaries = group.__dict__.setdefault("ftctl_primaries", {})
    by_role = [m for m in members if m.get("current_role") == "primary"]
    remembered = [m for m in members if m["cache_cluster_id"] == primaries.get(node_group_id)]
    primary = (by_role or remembered or members)[0]
    promoted = next(m for m in members if m is not primary)
    if "current_role" in primary:
        primary["current_role"] = "replica"
        promoted["current_role"] = "primary"
    primaries[node_group_id] = promoted["cache_cluster_id"]
    return group


def test_failover_response(self) -> ActionResult:
    group = self.elasticache_backend.test_failover(
        replication_group_id=self._get_param("ReplicationGroupId"),
        node_group_id=self._get_param("NodeGroupId"),
    )
    return ActionResult({"ReplicationGroup": group})


if not hasattr(ElastiCacheBackend, "test_failover"):
    ElastiCacheBackend.test_failover = test_failover_backend
if not hasattr(ElastiCacheResponse, "test_failover"):
    ElastiCacheResponse.test_failover = test_failover_response
