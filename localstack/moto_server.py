"""moto's server with the gaps closed that ftctl runs into (moto 5.2.5; details, AWS references
and what moto did are in each module of moto_patches/):

- ElastiCache (moto_patches/elasticache.py): DeleteCacheSubnetGroup (not implemented in moto;
  added with AWS's not-found and in-use errors); replication-group deletion that finishes (moto
  kept the group `deleting` for ever); a cluster-mode-off group has NumCacheClusters members
  (moto made one); TestFailover (not implemented in moto): a replica of the shard becomes
  primary.
- EMR (moto_patches/emr.py): keeps the auto-termination and managed-scaling policies given at
  RunJobFlow and answers Get/Put/Remove for them (moto dropped them); terminates a cluster's EC2
  instances when the cluster terminates (moto left them running).
- X-Ray (moto_patches/xray.py): groups, sampling rules and their tags (moto's X-Ray keeps trace
  segments only and answered 404).
- Application Auto Scaling (moto_patches/applicationautoscaling.py): the `elasticache` namespace
  (moto refused it) and `ecs` without moto's own ECS (ECS is served by ministack), with AWS's
  resource-id formats and not-found errors.
- Auto Scaling (moto_patches/autoscaling.py): instances a group launches later (replacements,
  a higher desired capacity) are registered in its target groups, and instances that leave it
  are deregistered (moto registered only at set-capacity time and never deregistered); a member
  terminated or stopped through EC2 is Terminating/Unhealthy at once and replaced only
  FTCTL_ASG_REPLACE_SECONDS (2) later, its replacement's target `initial` for
  FTCTL_TG_INITIAL_SECONDS (1) (moto replaced a terminated one inside the call and ignored a
  stopped one).
- Auto Scaling instance refresh (moto_patches/instance_refresh.py): StartInstanceRefresh,
  DescribeInstanceRefreshes, CancelInstanceRefresh, RollbackInstanceRefresh (not implemented in
  moto), replacing instances in batches by the minimum and maximum healthy percentages, with
  warm-up, checkpoints, alarms (read from ministack's CloudWatch) and rollback, waits scaled by
  FTCTL_REFRESH_TIME_SCALE (0.01); each instance reports the template version it was launched
  with (moto reported the template's current default for all).
- Systems Manager (moto_patches/ssm.py): a command runs for its DurationSeconds parameter
  (InProgress, then Success; moto made every command Success at once), CancelCommand and
  ListCommandInvocations (not implemented in moto).
- EC2 launch templates (moto_patches/launch_templates.py): DescribeLaunchTemplates and
  DescribeLaunchTemplateVersions page with NextToken (moto cut the answer at MaxResults, 15 by
  default, with no way to the rest).
- EC2 tags (moto_patches/ec2_tags.py): a resource's tags are read from the tag store by its id
  (moto searched every tag of every resource for each one, so tag-filtered listings took time in
  the square of the resources: 5 s for 620 security groups).
Everything else is moto unchanged. Run as: python moto_server.py -H 127.0.0.1 -p PORT
"""

import sys

import moto_patches  # noqa: F401  (applies the patches)
from moto.server import main

if __name__ == "__main__":
    sys.exit(main())
