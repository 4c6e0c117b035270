"""moto's server with the one ElastiCache call it lacks and ftctl needs: DeleteCacheSubnetGroup.

moto 5.2 models cache subnet groups in its own VPCs (which is why ElastiCache is routed to moto),
but answers DeleteCacheSubnetGroup with "not implemented", so no deployment with a cache could be
destroyed. This adds the call with AWS's behaviour: the group goes, an unknown name is
CacheSubnetGroupNotFoundFault, a group still used by a live cache is CacheSubnetGroupInUse.
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


if not hasattr(ElastiCacheBackend, "delete_cache_subnet_group"):
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group_backend
if not hasattr(ElastiCacheResponse, "delete_cache_subnet_group"):
    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group_response

if __name__ == "__main__":
    sys.exit(main())
