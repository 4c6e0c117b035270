//! Chaos experiments against AWS: probes read the deployment's state straight from EC2, Auto
//! Scaling, ELBv2, RDS and CloudWatch alarm states (never from metrics, which lag minutes), and
//! actions change only resources carrying the deployment's ownership tag. `AwsLab` is the
//! `chaos::run::Lab` the run loop acts through; `ftctl status` probes with it too.

use crate::aws::clients::Clients;
use crate::aws::cloudwatch::alarm_state::AlarmPlaces;
use crate::aws::ec2::network_acl;
use crate::aws::ec2::tags::tag_specification;
use crate::aws::sdk::{aws_error, error_code, filter, wait_for, RELEASE_WAIT};
use crate::chaos::design::{Action, Undo};
use crate::chaos::run::Lab;
use crate::chaos::{
    tier_state, CacheState, DatabaseState, DocumentsState, Instance, Inventory, Observation,
    ServiceState, ShardState, Snapshot, Task,
};
use crate::deployment::TAG_DEPLOYMENT;
use anyhow::{Context, Result};
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_ec2::client::Waiters as _;
use aws_sdk_ec2::types::NetworkAcl;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Tags the deny-all network ACL kill-az makes, with the deployment's name: how rollback finds
/// it. Not the ownership tag, so the ACL is never taken for part of the stack.
pub const TAG_CHAOS_ACL: &str = "ftctl:chaos-isolates";

/// subnet id -> (its network ACL association id, the ACL it is on), for `subnets`, from `acls`.
fn associations(
    acls: &[NetworkAcl],
    subnets: &BTreeMap<String, String>,
) -> HashMap<String, (String, String)> {
    let mut found = HashMap::new();
    for acl in acls {
        for a in acl.associations() {
            if let (Some(subnet), Some(assoc), Some(id)) = (
                a.subnet_id(),
                a.network_acl_association_id(),
                acl.network_acl_id(),
            ) {
                if subnets.contains_key(subnet) {
                    found.insert(subnet.to_string(), (assoc.to_string(), id.to_string()));
                }
            }
        }
    }
    found
}

pub struct AwsLab {
    pub clients: Arc<Clients>,
    pub inventory: Inventory,
    /// Alarm names whose state each probe reads: the deployment's and the stop conditions.
    pub alarm_names: Vec<String>,
    /// Where each alarm is read.
    pub alarm_places: AlarmPlaces,
}

struct GroupView {
    desired: u32,
    subnets: Vec<String>,
    /// instance id -> (lifecycle state, health status)
    members: HashMap<String, (String, String)>,
}

impl AwsLab {
    /// The lab over a deployment read into `inventory`, probing its own alarms.
    pub fn new(cloud: &crate::aws::AwsCloud, inventory: &Inventory) -> AwsLab {
        AwsLab {
            clients: cloud.clients.clone(),
            alarm_names: inventory.alarms.iter().map(|a| a.name.clone()).collect(),
            alarm_places: AlarmPlaces::new(cloud, inventory),
            inventory: inventory.clone(),
        }
    }

    async fn groups(&self) -> Result<HashMap<String, GroupView>> {
        let names: Vec<String> = self
            .inventory
            .groups
            .iter()
            .map(|g| g.name.clone())
            .collect();
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self
            .clients
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names))
            .send()
            .await
            .map_err(|e| aws_error("reading auto scaling groups", e))?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .map(|g| {
                let view = GroupView {
                    desired: g.desired_capacity().unwrap_or(0).max(0) as u32,
                    subnets: crate::aws::autoscaling::group::zone_list(g.vpc_zone_identifier()),
                    members: g
                        .instances()
                        .iter()
                        .filter_map(|i| {
                            Some((
                                i.instance_id()?.to_string(),
                                (
                                    i.lifecycle_state()
                                        .map(|s| s.as_str().to_string())
                                        .unwrap_or_default(),
                                    i.health_status().unwrap_or_default().to_string(),
                                ),
                            ))
                        })
                        .collect(),
                };
                (
                    g.auto_scaling_group_name().unwrap_or_default().to_string(),
                    view,
                )
            })
            .collect())
    }

    /// (id, state, zone) of every instance carrying the deployment's tag, terminated ones left out.
    async fn instances(&self) -> Result<Vec<(String, String, String)>> {
        let reservations: Vec<_> = self
            .clients
            .ec2
            .describe_instances()
            .filters(filter(
                &format!("tag:{TAG_DEPLOYMENT}"),
                &self.inventory.env,
            ))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("reading instances", e))?;
        Ok(reservations
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let state = i.state()?.name()?.as_str().to_string();
                (state != "terminated").then(|| {
                    (
                        i.instance_id().unwrap_or_default().to_string(),
                        state,
                        i.placement()
                            .and_then(|p| p.availability_zone())
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
            })
            .collect())
    }

    /// target group arn -> instance id -> target state.
    async fn target_health(&self) -> Result<HashMap<String, HashMap<String, String>>> {
        let arns: BTreeSet<&String> = self
            .inventory
            .groups
            .iter()
            .flat_map(|g| g.target_groups.iter())
            .collect();
        let reads = arns.into_iter().map(|arn| async move {
            let out = self
                .clients
                .elb
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading target health of {arn}"), e))?;
            let states = out
                .target_health_descriptions()
                .iter()
                .filter_map(|d| {
                    Some((
                        d.target()?.id()?.to_string(),
                        d.target_health()?.state()?.as_str().to_string(),
                    ))
                })
                .collect();
            Ok::<_, anyhow::Error>((arn.clone(), states))
        });
        futures::future::try_join_all(reads)
            .await
            .map(|v| v.into_iter().collect())
    }

    async fn databases(&self) -> Result<Vec<DatabaseState>> {
        let reads = self.inventory.databases.iter().map(|d| async move {
            let out = self
                .clients
                .rds
                .describe_db_instances()
                .db_instance_identifier(&d.identifier)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading database {}", d.identifier), e))?;
            let db = out.db_instances().first();
            Ok::<_, anyhow::Error>(DatabaseState {
                name: d.name.clone(),
                identifier: d.identifier.clone(),
                status: db
                    .and_then(|x| x.db_instance_status())
                    .unwrap_or("missing")
                    .to_string(),
                zone: db
                    .and_then(|x| x.availability_zone())
                    .unwrap_or_default()
                    .to_string(),
                secondary_zone: db
                    .and_then(|x| x.secondary_availability_zone())
                    .map(str::to_string),
            })
        });
        futures::future::try_join_all(reads).await
    }

    /// Each document database's status and writer (DescribeDBClusters: the member with
    /// IsClusterWriter). A cluster not found reads as `missing`.
    async fn documents(&self) -> Result<Vec<DocumentsState>> {
        let reads = self.inventory.documents.iter().map(|d| async move {
            let cluster = match self
                .clients
                .docdb
                .describe_db_clusters()
                .db_cluster_identifier(&d.identifier)
                .send()
                .await
            {
                Ok(out) => out.db_clusters().first().cloned(),
                Err(e) if error_code(&e).as_deref() == Some("DBClusterNotFoundFault") => None,
                Err(e) => {
                    return Err(aws_error(
                        &format!("reading document database {}", d.identifier),
                        e,
                    ))
                }
            };
            Ok::<_, anyhow::Error>(DocumentsState {
                name: d.name.clone(),
                identifier: d.identifier.clone(),
                status: cluster
                    .as_ref()
                    .and_then(|c| c.status())
                    .unwrap_or("missing")
                    .to_string(),
                writer: cluster
                    .as_ref()
                    .and_then(|c| {
                        c.db_cluster_members()
                            .iter()
                            .find(|m| m.is_cluster_writer() == Some(true))
                            .and_then(|m| m.db_instance_identifier())
                    })
                    .unwrap_or_default()
                    .to_string(),
            })
        });
        futures::future::try_join_all(reads).await
    }

    async fn caches(&self) -> Result<Vec<CacheState>> {
        let reads = self.inventory.caches.iter().map(|c| async move {
            let out = self
                .clients
                .elasticache
                .describe_replication_groups()
                .replication_group_id(&c.group)
                .send()
                .await;
            let group = match out {
                Ok(out) => out.replication_groups().first().cloned(),
                Err(e) if error_code(&e).as_deref() == Some("ReplicationGroupNotFoundFault") => {
                    None
                }
                Err(e) => return Err(aws_error(&format!("reading cache {}", c.group), e)),
            };
            let Some(g) = group else {
                return Ok(CacheState {
                    name: c.name.clone(),
                    group: c.group.clone(),
                    status: "missing".into(),
                    shards: Vec::new(),
                });
            };
            let shards = g
                .node_groups()
                .iter()
                .map(|ng| {
                    let primary = ng.node_group_members().iter().find(|m| {
                        m.current_role()
                            .is_some_and(|r| r.eq_ignore_ascii_case("primary"))
                    });
                    ShardState {
                        id: ng.node_group_id().unwrap_or_default().to_string(),
                        status: ng.status().unwrap_or_default().to_string(),
                        members: ng.node_group_members().len() as u32,
                        primary: primary
                            .and_then(|m| m.cache_cluster_id())
                            .map(str::to_string),
                        primary_zone: primary
                            .and_then(|m| m.preferred_availability_zone())
                            .map(str::to_string),
                    }
                })
                .collect();
            Ok::<_, anyhow::Error>(CacheState {
                name: c.name.clone(),
                group: c.group.clone(),
                status: g.status().unwrap_or_default().to_string(),
                shards,
            })
        });
        futures::future::try_join_all(reads).await
    }

    /// Each service's counts and its running tasks.
    async fn services(&self) -> Result<(Vec<ServiceState>, Vec<Task>)> {
        let ecs = &self.clients.ecs;
        let mut states = Vec::new();
        let mut tasks = Vec::new();
        for s in &self.inventory.services {
            let out = ecs
                .describe_services()
                .cluster(&s.cluster)
                .services(&s.service)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading service {}", s.service), e))?;
            let described = out.services().first();
            states.push(ServiceState {
                name: s.name.clone(),
                service: s.service.clone(),
                desired: described.map(|d| d.desired_count()).unwrap_or(0).max(0) as u32,
                running: described.map(|d| d.running_count()).unwrap_or(0).max(0) as u32,
                pending: described.map(|d| d.pending_count()).unwrap_or(0).max(0) as u32,
            });
            let arns: Vec<String> = ecs
                .list_tasks()
                .cluster(&s.cluster)
                .service_name(&s.service)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| aws_error(&format!("listing tasks of {}", s.service), e))?;
            for chunk in arns.chunks(100) {
                let described = ecs
                    .describe_tasks()
                    .cluster(&s.cluster)
                    .set_tasks(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("reading tasks of {}", s.service), e))?;
                tasks.extend(
                    described
                        .tasks()
                        .iter()
                        .filter(|t| t.last_status() == Some("RUNNING"))
                        .map(|t| Task {
                            service: s.service.clone(),
                            arn: t.task_arn().unwrap_or_default().to_string(),
                            zone: t.availability_zone().unwrap_or_default().to_string(),
                        }),
                );
            }
        }
        Ok((states, tasks))
    }

    async fn alarms_firing(&self) -> Result<Vec<String>> {
        let mut firing = Vec::new();
        for (cloudwatch, chunk) in self.alarm_places.batches(&self.alarm_names) {
            let out = cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk))
                .state_value(StateValue::Alarm)
                .send()
                .await
                .map_err(|e| aws_error("reading alarm states", e))?;
            firing.extend(
                out.metric_alarms()
                    .iter()
                    .filter(|a| a.state_value() == Some(&StateValue::Alarm))
                    .filter_map(|a| a.alarm_name().map(str::to_string)),
            );
        }
        firing.sort();
        Ok(firing)
    }

    /// The ARN of each alarm among `names` that exists, by name.
    pub async fn alarm_arns(&self, names: &[String]) -> Result<BTreeMap<String, String>> {
        let mut found = BTreeMap::new();
        for (cloudwatch, chunk) in self.alarm_places.batches(names) {
            let out = cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk))
                .send()
                .await
                .map_err(|e| aws_error("reading alarms", e))?;
            found.extend(
                out.metric_alarms().iter().filter_map(|a| {
                    Some((a.alarm_name()?.to_string(), a.alarm_arn()?.to_string()))
                }),
            );
            found.extend(
                out.composite_alarms().iter().filter_map(|a| {
                    Some((a.alarm_name()?.to_string(), a.alarm_arn()?.to_string()))
                }),
            );
        }
        Ok(found)
    }

    async fn start_instances(&self, ids: &[String]) -> Result<()> {
        // Start only what is still there; an instance the group replaced may be gone.
        let out = self
            .clients
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("reading stopped instances", e))?;
        let mut stopping = Vec::new();
        let mut startable = Vec::new();
        for i in out.reservations().iter().flat_map(|r| r.instances()) {
            let id = i.instance_id().unwrap_or_default().to_string();
            match i.state().and_then(|s| s.name()).map(|n| n.as_str()) {
                Some("stopping") => {
                    stopping.push(id.clone());
                    startable.push(id);
                }
                Some("stopped") => startable.push(id),
                _ => {}
            }
        }
        if !stopping.is_empty() {
            self.clients
                .ec2
                .wait_until_instance_stopped()
                .set_instance_ids(Some(stopping))
                .wait(Duration::from_secs(600))
                .await
                .context("waiting for instances to finish stopping before starting them")?;
        }
        if startable.is_empty() {
            return Ok(());
        }
        self.clients
            .ec2
            .start_instances()
            .set_instance_ids(Some(startable))
            .send()
            .await
            .map_err(|e| aws_error("starting instances", e))?;
        Ok(())
    }

    /// Every network ACL of `vpc`: one request, whatever the number of subnets.
    async fn vpc_acls(&self, vpc: &str) -> Result<Vec<NetworkAcl>> {
        network_acl::list(&self.clients.ec2, vec![filter("vpc-id", vpc)]).await
    }

    /// The deny-all ACLs kill-az made for this deployment, among `acls`.
    fn isolating<'a>(&self, acls: &'a [NetworkAcl]) -> impl Iterator<Item = &'a NetworkAcl> {
        let env = self.inventory.env.clone();
        acls.iter().filter(move |a| {
            a.tags()
                .iter()
                .any(|t| t.key() == Some(TAG_CHAOS_ACL) && t.value() == Some(env.as_str()))
        })
    }

    async fn isolate(
        &self,
        vpc: &str,
        zone: &str,
        subnets: &BTreeMap<String, String>,
    ) -> Result<()> {
        let acls = self.vpc_acls(vpc).await?;
        // A new ACL has no rules but the catch-all denies every ACL ends with (rule `*`, in and
        // out: Amazon VPC User Guide, "Default network ACL for your VPC"; a custom ACL "denies
        // all inbound and outbound traffic" until rules are added), so moving a subnet onto it
        // cuts the subnet off both ways. One left over from a killed run is reused.
        let existing = self
            .isolating(&acls)
            .find_map(|a| a.network_acl_id())
            .map(str::to_string);
        let acl = match existing {
            Some(id) => id,
            None => {
                let name = format!("{}-kill-az-{zone}", self.inventory.env);
                let tags = tag_specification(
                    aws_sdk_ec2::types::ResourceType::NetworkAcl,
                    [
                        (TAG_CHAOS_ACL, self.inventory.env.as_str()),
                        ("Name", &name),
                    ],
                );
                self.clients
                    .ec2
                    .create_network_acl()
                    .vpc_id(vpc)
                    .tag_specifications(tags)
                    .send()
                    .await
                    .map_err(|e| aws_error("creating the deny-all network ACL", e))?
                    .network_acl()
                    .and_then(|a| a.network_acl_id())
                    .map(str::to_string)
                    .context("EC2 created a network ACL without an id")?
            }
        };
        let current = associations(&acls, subnets);
        for subnet in subnets.keys() {
            let (association, on) = current
                .get(subnet)
                .with_context(|| format!("subnet {subnet} is on no network ACL EC2 reports"))?;
            if *on != acl {
                network_acl::replace_association(&self.clients.ec2, subnet, association, &acl)
                    .await?;
            }
        }
        Ok(())
    }

    async fn restore_acls(&self, vpc: &str, subnets: &BTreeMap<String, String>) -> Result<()> {
        let acls = self.vpc_acls(vpc).await?;
        let current = associations(&acls, subnets);
        let mut moved = Vec::new();
        for (subnet, original) in subnets {
            match current.get(subnet) {
                Some((association, on)) if on != original => {
                    network_acl::replace_association(
                        &self.clients.ec2,
                        subnet,
                        association,
                        original,
                    )
                    .await?;
                    moved.push(subnet.as_str());
                }
                Some(_) => {}
                None => anyhow::bail!("subnet {subnet} is on no network ACL EC2 reports"),
            }
        }
        // Delete the deny-all ACL once none of its subnets is left on it (EC2 refuses while
        // one is); subnets other than the ones just moved keep it.
        for acl in self.isolating(&acls) {
            let Some(id) = acl.network_acl_id() else {
                continue;
            };
            let others = acl
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id())
                .any(|s| !moved.contains(&s));
            if others {
                tracing::warn!("network ACL {id} still has subnets: not deleted");
                continue;
            }
            network_acl::delete_acl(&self.clients.ec2, id).await?;
        }
        Ok(())
    }

    async fn set_zones(&self, group: &str, subnets: &[String]) -> Result<()> {
        self.clients
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .vpc_zone_identifier(subnets.join(","))
            .send()
            .await
            .map_err(|e| aws_error(&format!("changing the zone list of group {group}"), e))?;
        Ok(())
    }
}

#[async_trait]
impl Lab for AwsLab {
    async fn probe(&self) -> Result<Observation> {
        let (groups, ec2, targets, databases, documents, caches, (services, tasks), alarms_firing) =
            tokio::try_join!(
                self.groups(),
                self.instances(),
                self.target_health(),
                self.databases(),
                self.documents(),
                self.caches(),
                self.services(),
                self.alarms_firing(),
            )?;
        let mut instances = Vec::new();
        for (id, state, zone) in ec2 {
            let owner = self.inventory.groups.iter().find(|g| {
                groups
                    .get(&g.name)
                    .is_some_and(|v| v.members.contains_key(&id))
            });
            let (tier, lifecycle, health, target_health) = match owner {
                Some(g) => {
                    let (lifecycle, health) = groups[&g.name].members[&id].clone();
                    let th = g
                        .target_groups
                        .iter()
                        .filter_map(|arn| targets.get(arn).and_then(|t| t.get(&id)).cloned())
                        .collect();
                    (g.tier.clone(), lifecycle, health, th)
                }
                None => (String::new(), String::new(), String::new(), Vec::new()),
            };
            instances.push(Instance {
                id,
                tier,
                zone,
                state,
                lifecycle,
                group_health: health,
                target_health,
            });
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        let tiers = self
            .inventory
            .groups
            .iter()
            .map(|g| {
                let view = groups.get(&g.name);
                tier_state(
                    g,
                    view.map(|v| v.desired).unwrap_or(0),
                    view.map(|v| v.subnets.as_slice()).unwrap_or(&[]),
                    &instances,
                )
            })
            .collect();
        Ok(Observation {
            snapshot: Snapshot {
                at: 0.0,
                tiers,
                databases,
                documents,
                caches,
                services,
                alarms_firing,
            },
            instances,
            tasks,
        })
    }

    async fn act(&self, action: &Action) -> Result<()> {
        match action {
            Action::IsolateSubnets { vpc, zone, subnets } => self.isolate(vpc, zone, subnets).await,
            Action::RemoveZone { group, to, .. } => self.set_zones(group, to).await,
            Action::TerminateInstances { instances } => {
                self.clients
                    .ec2
                    .terminate_instances()
                    .set_instance_ids(Some(instances.clone()))
                    .send()
                    .await
                    .map_err(|e| aws_error("terminating instances", e))?;
                Ok(())
            }
            Action::StopInstances { instances } => {
                // Forced: no clean shutdown, as when the power goes.
                self.clients
                    .ec2
                    .stop_instances()
                    .set_instance_ids(Some(instances.clone()))
                    .force(true)
                    .send()
                    .await
                    .map_err(|e| aws_error("stopping instances", e))?;
                Ok(())
            }
            Action::FailoverDatabase { identifier, .. } => {
                self.clients
                    .rds
                    .reboot_db_instance()
                    .db_instance_identifier(identifier)
                    .force_failover(true)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("failing over database {identifier}"), e))?;
                Ok(())
            }
            // No target: DocumentDB promotes the replica with the lowest promotion tier, as it
            // does when the writer fails (DocumentDB Developer Guide, "Amazon DocumentDB
            // failover").
            Action::FailoverDocuments { identifier, .. } => {
                self.clients
                    .docdb
                    .failover_db_cluster()
                    .db_cluster_identifier(identifier)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(&format!("failing over document database {identifier}"), e)
                    })?;
                Ok(())
            }
            Action::StopTasks {
                cluster,
                service,
                tasks,
            } => {
                for task in tasks {
                    self.clients
                        .ecs
                        .stop_task()
                        .cluster(cluster)
                        .task(task)
                        .reason("ftctl chaos kill-task")
                        .send()
                        .await
                        .map_err(|e| aws_error(&format!("stopping a task of {service}"), e))?;
                }
                Ok(())
            }
            Action::SendCommand {
                document,
                instances,
                parameters,
                comment,
            } => {
                crate::aws::ssm::send(&self.clients, document, instances, parameters, comment)
                    .await?;
                Ok(())
            }
            Action::FailoverCache { group, shard, .. } => {
                // ElastiCache runs one TestFailover per replication group at a time: another
                // shard of the same group waits until the previous failover has finished (the
                // group is available again).
                let elasticache = &self.clients.elasticache;
                wait_for(
                    &format!("cache {group} to finish its previous failover"),
                    RELEASE_WAIT,
                    || async {
                        let out = elasticache
                            .describe_replication_groups()
                            .replication_group_id(group)
                            .send()
                            .await
                            .map_err(|e| aws_error(&format!("reading cache {group}"), e))?;
                        Ok(out
                            .replication_groups()
                            .first()
                            .is_some_and(|g| g.status() == Some("available")))
                    },
                )
                .await?;
                self.clients
                    .elasticache
                    .test_failover()
                    .replication_group_id(group)
                    .node_group_id(shard)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(&format!("failing over cache {group} shard {shard}"), e)
                    })?;
                Ok(())
            }
            Action::PauseReplication {
                region,
                arn,
                seconds,
                ..
            } => {
                let client = self.clients.dynamodb_in(region);
                crate::aws::dynamodb::resource_policy::pause(&client, arn, *seconds).await
            }
        }
    }

    async fn undo(&self, undo: &Undo) -> Result<()> {
        match undo {
            Undo::RestoreZones { group, subnets } => self.set_zones(group, subnets).await,
            Undo::StartInstances { instances } => self.start_instances(instances).await,
            Undo::RestoreNetworkAcls { vpc, subnets } => self.restore_acls(vpc, subnets).await,
            Undo::CancelCommand {
                document,
                instances,
                comment,
            } => crate::aws::ssm::cancel(&self.clients, document, instances, comment).await,
            Undo::ResumeReplication { region, arn, .. } => {
                let client = self.clients.dynamodb_in(region);
                crate::aws::dynamodb::resource_policy::resume(&client, arn).await
            }
        }
    }
}
