"""EMR, whose clusters moto models in its own subnets (ministack's EMR writes timestamps as text,
which the Rust SDK cannot read).

- AutoTerminationPolicy and ManagedScalingPolicy: AWS keeps the policies given at RunJobFlow and
  answers Get/Put/Remove for them; moto drops them and answers the Get calls with "not
  implemented". Here they are kept on the cluster.
- Terminating a cluster terminates its EC2 instances, as EMR does (moto left them running,
  untagged, for ever).
- EMR is regional: a cluster made in eu-west-1 is not listed in us-east-1. moto reads the region
  only from an AWS host name (`elasticmapreduce.REGION.amazonaws.com`), so behind an endpoint
  override every cluster landed in the default region. Here the region falls back to the
  request's SigV4 credential scope, as moto's other services read it.
"""

from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.emr.exceptions import InvalidRequestException
from moto.emr.models import Cluster
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


def region_from_host_or_signature(self, request, full_url):
    for regex in ElasticMapReduceResponse.emr_region_regex:
        match = regex.search(self.parsed_url.netloc)
        if match:
            return match.group(1)
    return BaseResponse.get_region_from_url(self, request, full_url)


ElasticMapReduceResponse.get_region_from_url = region_from_host_or_signature
