"""moto's server with two ElastiCache gaps closed that ftctl runs into.

moto 5.2 models cache subnet groups in its own VPCs (which is why ElastiCache is routed to moto),
but
- answers DeleteCacheSubnetGroup with "not implemented", so no deployment with a cache could be
  destroyed. Added with AWS's behaviour: the group goes, an unknown name is
  CacheSubnetGroupNotFoundFault, a group still used by a live cache is CacheSubnetGroupInUse;
- keeps a deleted replication group listed as `deleting` for ever, where AWS removes it when the
  deletion finishes, so the same group id could never be created again. Here the deletion
  finishes at once (the reply still says `deleting`), as moto does for RDS instances.
and for EMR, whose clusters moto models in its own subnets:
- keeps the auto-termination and managed-scaling policies given at RunJobFlow and answers
  Get/Put/Remove for them (moto drops them and answers the Get calls with "not implemented");
- terminates a cluster's EC2 instances when the cluster terminates, as EMR does (moto left them
  running, untagged, for ever).
Everything else is moto unchanged. Run as: python moto_server.py -H 127.0.0.1 -p PORT
"""

import sys

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
from moto.emr.models import Cluster
from moto.server import main


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

from moto.emr.exceptions import InvalidRequestException
from moto.emr.responses import ElasticMapReduceResponse

_run_job_flow = ElasticMapReduceResponse.run_job_flow


def _cluster(self):
    cluster_id = self._get_param("ClusterId")
    cluster = self.backend.clusters.get(cluster_id)
    if cluster is None:
        raise InvalidRequestException(f"Cluster id '{cluster_id}' is not valid.")
    return cluster


def run_job_flow_keeping_policies(self):
    result = _run_job_flow(self)
    cluster = self.backend.clusters[result.result["JobFlowId"]]
    cluster.ftctl_auto_termination = self._get_param("AutoTerminationPolicy")
    cluster.ftctl_managed_scaling = self._get_param("ManagedScalingPolicy")
    return result


def get_auto_termination_policy(self):
    policy = getattr(_cluster(self), "ftctl_auto_termination", None)
    return ActionResult({"AutoTerminationPolicy": policy} if policy else {})


def put_auto_termination_policy(self):
    _cluster(self).ftctl_auto_termination = self._get_param("AutoTerminationPolicy")
    return EmptyResult()


def remove_auto_termination_policy(self):
    _cluster(self).ftctl_auto_termination = None
    return EmptyResult()


def get_managed_scaling_policy(self):
    policy = getattr(_cluster(self), "ftctl_managed_scaling", None)
    return ActionResult({"ManagedScalingPolicy": policy} if policy else {})


def put_managed_scaling_policy(self):
    _cluster(self).ftctl_managed_scaling = self._get_param("ManagedScalingPolicy")
    return EmptyResult()


def remove_managed_scaling_policy(self):
    _cluster(self).ftctl_managed_scaling = None
    return EmptyResult()


ElasticMapReduceResponse.run_job_flow = run_job_flow_keeping_policies
for _handler in [
    get_auto_termination_policy,
    put_auto_termination_policy,
    remove_auto_termination_policy,
    get_managed_scaling_policy,
    put_managed_scaling_policy,
    remove_managed_scaling_policy,
]:
    if not hasattr(ElasticMapReduceResponse, _handler.__name__):
        setattr(ElasticMapReduceResponse, _handler.__name__, _handler)

_terminate_cluster = Cluster.terminate


def terminate_cluster_and_its_instances(self) -> None:
    _terminate_cluster(self)
    ids = [i.ec2_instance_id for i in self.ec2_instances]
    if ids:
        self.emr_backend.ec2_backend.terminate_instances(ids)


Cluster.terminate = terminate_cluster_and_its_instances

if __name__ == "__main__":
    sys.exit(main())
