"""Patches to moto 5.2 that close the gaps ftctl's AWS code paths run into. Each module says what
AWS does (with the API reference page), what moto did, and what it changes; importing this
package applies them all (moto_server.py does, before it starts moto's server)."""

from . import (  # noqa: F401
    applicationautoscaling,
    autoscaling,
    ec2,
    ec2_tags,
    elasticache,
    emr,
    instance_refresh,
    launch_templates,
    rds,
    ssm,
    xray,
)
