"""Application Auto Scaling for ElastiCache replication groups and ECS services.

AWS: a scalable target is a (ServiceNamespace, ResourceId, ScalableDimension); for ElastiCache the
ResourceId is `replication-group/NAME` with the dimensions `elasticache:replication-group:Replicas`
and `...:NodeGroups`, for ECS `service/CLUSTER/SERVICE` with `ecs:service:DesiredCount`. A new
target needs MinCapacity and MaxCapacity; services with a service-linked role report it as the
target's RoleARN. PutScalingPolicy on a target not registered, and DeregisterScalableTarget or
DeleteScalingPolicy of something not there, are ObjectNotFoundException; deregistering a target
deletes its scaling policies.
  https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html
  .../API_PutScalingPolicy.html, .../API_DeregisterScalableTarget.html,
  .../API_DeleteScalingPolicy.html
moto: refuses the `elasticache` namespace and its dimensions (its enum lists lack them), requires
an ECS service to exist in moto's own ECS, reports RoleARN and SuspendedState as null, answers
ValidationException where AWS says ObjectNotFoundException, keeps a deregistered target's
policies and accepts a policy for a target never registered.
Here: both namespaces are accepted with their resource-id formats checked; an ElastiCache target
needs its replication group in moto's ElastiCache (the same process); an ECS target's service is
not looked up, because ECS is served by the other emulator (ministack), which moto cannot see.
"""

import re

from moto.applicationautoscaling import models as aas_models
from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    FakeApplicationAutoscalingPolicy,
)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.exceptions import JsonRESTError
from moto.elasticache.models import elasticache_backends


class ObjectNotFound(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("ObjectNotFoundException", message)


# Namespace -> dimension -> the ResourceId it takes, and the service-linked role's path.
RESOURCE_IDS = {
    "elasticache": {
        "elasticache:replication-group:Replicas": re.compile(r"replication-group/[^/]+"),
        "elasticache:replication-group:NodeGroups": re.compile(r"replication-group/[^/]+"),
    },
    "ecs": {"ecs:service:DesiredCount": re.compile(r"service/[^/]+/[^/]+")},
}
SERVICE_LINKED_ROLES = {
    "elasticache": "elasticache.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ElastiCacheRG",
    "ecs": "ecs.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_ECSService",
}
UNSUPPORTED = "Unsupported service namespace, resource type or scalable dimension"

# --- request validation (moto's enum lists lack elasticache) ----------------------------------

_validate_params = ApplicationAutoScalingResponse._validate_params


def validate_params_with_elasticache(self) -> None:
    namespace = self._get_param("ServiceNamespace")
    dimension = self._get_param("ScalableDimension")
    if namespace == "elasticache" or (dimension or "").startswith("elasticache:"):
        if namespace != "elasticache" or (dimension and dimension not in RESOURCE_IDS[namespace]):
            raise AWSValidationException(UNSUPPORTED)
        return
    _validate_params(self)


ApplicationAutoScalingResponse._validate_params = validate_params_with_elasticache

_target_params_are_valid = aas_models._target_params_are_valid


def target_params_are_valid(namespace: str, r_id: str, dimension: str) -> bool:
    if namespace not in RESOURCE_IDS:
        return _target_params_are_valid(namespace, r_id, dimension)
    pattern = RESOURCE_IDS[namespace].get(dimension)
    if pattern is None or not pattern.fullmatch(r_id or ""):
        raise AWSValidationException(UNSUPPORTED)
    return True


aas_models._target_params_are_valid = target_params_are_valid


# ECS services live in ministack, not in this moto: any well-formed service id is accepted.
def ecs_service_not_looked_up(self, r_id: str) -> bool:
    return True


ApplicationAutoscalingBackend._ecs_service_exists_for_target = ecs_service_not_looked_up

# --- registering, deregistering, policies ------------------------------------------------------

_register = ApplicationAutoscalingBackend.register_scalable_target


def register_scalable_target(self, namespace, r_id, dimension, min_capacity, max_capacity,
                             role_arn, suspended_state):  # fmt: skip
    if namespace in RESOURCE_IDS:
        target_params_are_valid(namespace, r_id, dimension)
        if namespace == "elasticache":
            caches = elasticache_backends[self.account_id][self.region_name]
            if r_id.split("/", 1)[1] not in caches.replication_groups:
                raise AWSValidationException(f"ElastiCache replication group doesn't exist: {r_id}")
        is_new = r_id not in self.targets.get(dimension, {})
        if is_new and (min_capacity is None or max_capacity is None):
            raise AWSValidationException(
                "MinCapacity and MaxCapacity are required when registering a new scalable target."
            )
        existing = None if is_new else self.targets[dimension][r_id]
        low = min_capacity if min_capacity is not None else existing.min_capacity
        high = max_capacity if max_capacity is not None else existing.max_capacity
        if low > high:
            raise AWSValidationException("MinCapacity cannot be greater than MaxCapacity.")
    target = _register(self, namespace, r_id, dimension, min_capacity, max_capacity,
                       role_arn, suspended_state)  # fmt: skip
    if namespace in SERVICE_LINKED_ROLES and not target.role_arn:
        role = SERVICE_LINKED_ROLES[namespace]
        target.role_arn = f"arn:aws:iam::{self.account_id}:role/aws-service-role/{role}"
    if target.suspended_state is None:
        target.suspended_state = {
            "DynamicScalingInSuspended": False,
            "DynamicScalingOutSuspended": False,
            "ScheduledScalingSuspended": False,
        }
    return target


ApplicationAutoscalingBackend.register_scalable_target = register_scalable_target


def _target_missing(namespace: str, r_id: str, dimension: str) -> str:
    return (
        f"No scalable target registered for service namespace: {namespace}, resource ID: {r_id}, "
        f"scalable dimension: {dimension}"
    )


_put_scaling_policy = ApplicationAutoscalingBackend.put_scaling_policy


def put_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension,
                       policy_body, policy_type):  # fmt: skip
    if service_namespace in RESOURCE_IDS and not self._scalable_target_exists(
        resource_id, scalable_dimension
    ):
        raise ObjectNotFound(_target_missing(service_namespace, resource_id, scalable_dimension))
    return _put_scaling_policy(self, policy_name, service_namespace, resource_id,
                               scalable_dimension, policy_body, policy_type)  # fmt: skip


ApplicationAutoscalingBackend.put_scaling_policy = put_scaling_policy

_deregister = ApplicationAutoscalingBackend.deregister_scalable_target


def deregister_scalable_target(self, namespace: str, r_id: str, dimension: str) -> None:
    target = self.targets.get(dimension, {}).get(r_id)
    if target is None or target.service_namespace != namespace:
        raise ObjectNotFound(_target_missing(namespace, r_id, dimension))
    _deregister(self, namespace, r_id, dimension)
    for key, policy in list(self.policies.items()):
        if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
            namespace,
            r_id,
            dimension,
        ):
            policy.delete_alarms(self.account_id, self.region_name)
            del self.policies[key]


ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target

_delete_scaling_policy = ApplicationAutoscalingBackend.delete_scaling_policy


def delete_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension):
    key = FakeApplicationAutoscalingPolicy.formulate_key(
        service_namespace, resource_id, scalable_dimension, policy_name
    )
    if key not in self.policies:
        raise ObjectNotFound(
            f"No scaling policy found for service namespace: {service_namespace}, resource ID: "
            f"{resource_id}, scalable dimension: {scalable_dimension}, policy name: {policy_name}"
        )
    _delete_scaling_policy(self, policy_name, service_namespace, resource_id, scalable_dimension)


ApplicationAutoscalingBackend.delete_scaling_policy = delete_scaling_policy
