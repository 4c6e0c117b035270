//! Losing a zone (`kill-az`): its subnets cut off the network, the groups' instances there lost,
//! the groups kept from launching there, its tasks stopped, and the database and cache primaries
//! there failed over, all designed from one baseline probe.

use super::*;

pub(super) fn kill_az(
    inv: &Inventory,
    baseline: &Observation,
    zone: Option<&str>,
    mode: AzMode,
) -> Result<Design, Refusal> {
    let zones = inv.zones();
    if zones.is_empty() {
        return Err(Refusal(format!(
            "deployment {} has no group with subnets: nothing lives in a zone",
            inv.env
        )));
    }
    let zone = match zone {
        Some(z) if zones.iter().any(|x| x == z) => z.to_string(),
        Some(z) => {
            return Err(Refusal(format!(
                "--az {z}: deployment {} does not use that zone (it uses {})",
                inv.env,
                zones.join(", ")
            )))
        }
        None => {
            // The zone holding the most running capacity: losing it hurts the most.
            let mut load: BTreeMap<&str, usize> = zones.iter().map(|z| (z.as_str(), 0)).collect();
            for i in baseline.instances.iter().filter(|i| i.state == "running") {
                if let Some(n) = load.get_mut(i.zone.as_str()) {
                    *n += 1;
                }
            }
            let most = load.values().copied().max().unwrap_or(0);
            load.iter()
                .find(|(_, n)| **n == most)
                .map(|(z, _)| z.to_string())
                .unwrap_or_else(|| zones[0].clone())
        }
    };
    let mut actions = Vec::new();
    let mut warnings = Vec::new();
    let mut tiers = Vec::new();
    // First the network, as when a zone goes dark: every subnet of the deployment there.
    let zone_subnets: Vec<&String> = inv
        .subnet_zones
        .iter()
        .filter(|(_, z)| **z == zone)
        .map(|(s, _)| s)
        .collect();
    let isolate: BTreeMap<String, String> = zone_subnets
        .iter()
        .filter_map(|s| inv.subnet_acls.get(*s).map(|a| ((*s).clone(), a.clone())))
        .collect();
    let unknown: Vec<&str> = zone_subnets
        .iter()
        .filter(|s| !isolate.contains_key(**s))
        .map(|s| s.as_str())
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "subnet{} {} in {zone}: the network ACL is not known, so {} not cut off",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            if unknown.len() == 1 {
                "it is"
            } else {
                "they are"
            }
        ));
    }
    match &inv.vpc {
        Some(vpc) if !isolate.is_empty() => actions.push(Action::IsolateSubnets {
            vpc: vpc.clone(),
            zone: zone.clone(),
            subnets: isolate.clone(),
        }),
        None if !isolate.is_empty() => warnings.push(format!(
            "the deployment's VPC was not found, so {zone}'s subnets are not cut off"
        )),
        _ => {}
    }
    for g in &inv.groups {
        let current: Vec<String> = baseline
            .snapshot
            .tiers
            .iter()
            .find(|t| t.group == g.name)
            .map(|t| t.subnets.clone())
            .unwrap_or_else(|| g.subnets.clone());
        let keep: Vec<String> = current
            .iter()
            .filter(|s| inv.subnet_zones.get(*s) != Some(&zone))
            .cloned()
            .collect();
        let in_zone = current.len() - keep.len();
        let hit = baseline
            .instances
            .iter()
            .filter(|i| i.tier == g.tier && i.zone == zone && i.state == "running")
            .count();
        let running = baseline
            .instances
            .iter()
            .filter(|i| i.tier == g.tier && i.state == "running")
            .count();
        if in_zone > 0 || hit > 0 {
            tiers.push(g.tier.clone());
        }
        if in_zone > 0 && keep.is_empty() {
            warnings.push(format!(
                "group {} launches only in {zone}: its zone list cannot be emptied, so it may \
                 relaunch into the failed zone",
                g.name
            ));
        } else if in_zone > 0 {
            actions.push(Action::RemoveZone {
                group: g.name.clone(),
                zone: zone.clone(),
                from: current.clone(),
                to: keep,
            });
        }
        if hit > 0 && hit == running {
            warnings.push(format!(
                "tier {} is not spread across zones: all {running} running instance{} in {zone}",
                g.tier,
                if running == 1 { " is" } else { "s are" }
            ));
        }
    }
    let in_zone: Vec<&crate::chaos::Instance> = baseline
        .instances
        .iter()
        .filter(|i| i.zone == zone && matches!(i.state.as_str(), "running" | "pending"))
        .collect();
    // Only members of the deployment's Auto Scaling groups: other instances carrying the
    // deployment's tag (EMR propagates its cluster's tags to its nodes, EMR Management Guide,
    // "Tag clusters") have nothing that rebuilds them, so losing them is not part of a test.
    let mut victims: Vec<String> = in_zone
        .iter()
        .filter(|i| !i.tier.is_empty())
        .map(|i| i.id.clone())
        .collect();
    victims.sort();
    let spared: Vec<&str> = in_zone
        .iter()
        .filter(|i| i.tier.is_empty())
        .map(|i| i.id.as_str())
        .collect();
    if !spared.is_empty() {
        warnings.push(format!(
            "left alone in {zone}: {} (the deployment's, but in none of its Auto Scaling groups, \
             such as EMR nodes: nothing would rebuild them)",
            spared.join(", ")
        ));
    }
    if !victims.is_empty() {
        actions.push(match mode {
            AzMode::Terminate => Action::TerminateInstances {
                instances: victims.clone(),
            },
            AzMode::Stop => Action::StopInstances {
                instances: victims.clone(),
            },
        });
    }
    // The zone's Fargate tasks die with it; the services should start others elsewhere.
    let mut tasks_lost = 0;
    for svc in &inv.services {
        let all: Vec<&crate::chaos::Task> = baseline
            .tasks
            .iter()
            .filter(|t| t.service == svc.service)
            .collect();
        let mut there: Vec<String> = all
            .iter()
            .filter(|t| t.zone == zone)
            .map(|t| t.arn.clone())
            .collect();
        if there.is_empty() {
            continue;
        }
        there.sort();
        if there.len() == all.len() {
            warnings.push(format!(
                "service {} is not spread across zones: all {} running task{} in {zone}",
                svc.name,
                all.len(),
                if all.len() == 1 { " is" } else { "s are" }
            ));
        }
        tasks_lost += there.len();
        actions.push(Action::StopTasks {
            cluster: svc.cluster.clone(),
            service: svc.service.clone(),
            tasks: there,
        });
    }
    for d in &inv.databases {
        let Some(state) = baseline
            .snapshot
            .databases
            .iter()
            .find(|s| s.identifier == d.identifier)
        else {
            continue;
        };
        if state.zone != zone {
            continue;
        }
        if d.multi_az {
            actions.push(Action::FailoverDatabase {
                identifier: d.identifier.clone(),
                zone: zone.clone(),
            });
        } else {
            warnings.push(format!(
                "database {} is single-AZ with its only copy in {zone}: a real outage takes it \
                 down, and no failover can be tested",
                d.name
            ));
        }
    }
    for c in &baseline.snapshot.caches {
        for s in &c.shards {
            match &s.primary_zone {
                Some(z) if *z == zone => actions.push(Action::FailoverCache {
                    group: c.group.clone(),
                    shard: s.id.clone(),
                    zone: Some(zone.clone()),
                }),
                Some(_) => {}
                None => warnings.push(format!(
                    "cache {} shard {}: ElastiCache does not say which node is primary (cluster \
                     mode), so losing {zone} does not fail it over here; run \
                     `ftctl chaos cache-failover` for that",
                    c.name, s.id
                )),
            }
        }
    }
    if actions.is_empty() {
        return Err(Refusal(format!(
            "nothing of deployment {} is in {zone}: there is nothing to break there",
            inv.env
        )));
    }
    let verb = match mode {
        AzMode::Terminate => "terminate",
        AzMode::Stop => "stop",
    };
    let mut parts = Vec::new();
    if !isolate.is_empty() && inv.vpc.is_some() {
        parts.push(format!(
            "cut its {} subnet{} off",
            isolate.len(),
            if isolate.len() == 1 { "" } else { "s" }
        ));
    }
    parts.push(format!(
        "{verb} its {} instance{}",
        victims.len(),
        if victims.len() == 1 { "" } else { "s" }
    ));
    if tasks_lost > 0 {
        parts.push(format!(
            "stop its {tasks_lost} task{}",
            if tasks_lost == 1 { "" } else { "s" }
        ));
    }
    parts.push("keep groups out of it".to_string());
    Ok(Design {
        experiment: "kill-az".into(),
        summary: format!("lose zone {zone}: {}", parts.join(", ")),
        zone: Some(zone),
        tiers,
        actions,
        budget: placeholder_budget(),
        warnings,
        seed: None,
        steps: Vec::new(),
    })
}
