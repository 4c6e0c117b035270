"""moto's server with two ElastiCache gaps closed that ftctl runs into.

moto 5.2 models cache subnet groups in its own VPCs (which is why ElastiCache is routed to moto),
but
- answers DeleteCacheSubnetGroup with "not implemented", so no deployment with a cache could be
  destroyed. Added with AWS's behaviour: the group goes, an unknown name is
  CacheSubnetGroupNotFoundFault, a group still used by a live cache is CacheSubnetGroupInUse;
- keeps a deleted replication group listed as `deleting` for ever, where AWS removes it when the
  deletion finishes, so the same group id could never be created again. Here the deletion
  finishes at once (the reply still says `deleting`), as moto does for RDS instances.
Everything else is moto unchanged. Run as: python moto_server.py -H 127.0.0.1 -p PORT
"""

import sys

from moto.core.responses import ActionResult, EmptyResult
from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
from moto.elasticache.models import ElastiCacheBackend
from moto.elasticache.responses import ElastiCacheResponse
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

if __name__ == "__main__":
    sys.exit(main())
