//! Network ACLs: the stateless subnet-level filter. ftctl gives its subnets ACLs of their own
//! that admit only what the tiers need (and never SSH or RDP from anywhere: Security Hub
//! EC2.21), and leaves the VPC's default ACL unused and empty, as it leaves the default security
//! group (EC2.2). Subnets are associated with their ACL by the subnet provider (`associate`),
//! so no subnet is ever on the default ACL once made.
//!
//! An entry is a map: `rule` (1-32766), `egress`, `protocol` (IANA number as text, "-1" all),
//! `cidr`, `from_port`/`to_port` (TCP/UDP only), `action` (allow | deny).

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, error_code, filter, observed_from_spec, s, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{NetworkAcl, NetworkAclEntry, PortRange, ResourceType, RuleAction};

/// Every attribute of an ec2 network acl: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::NetworkAcl,
    &[Attr::new("entries"), Attr::new("vpc_id").replaces()],
);

pub struct NetworkAclProvider;

/// From this rule number on, the entries are the catch-all denies every ACL ends with (32767
/// for IPv4, 32768 for IPv6), which no API call may change.
const FIRST_CATCH_ALL_RULE: i32 = 32767;

fn entry_val(e: &NetworkAclEntry) -> Option<Val> {
    let rule = e.rule_number()?;
    if rule >= FIRST_CATCH_ALL_RULE {
        return None;
    }
    let protocol = e.protocol().unwrap_or_default();
    let mut m = vec![
        ("rule", Val::Int(rule.into())),
        ("egress", Val::Bool(e.egress().unwrap_or(false))),
        ("protocol", Val::str(protocol)),
        (
            "cidr",
            Val::str(e.cidr_block().or(e.ipv6_cidr_block()).unwrap_or_default()),
        ),
        (
            "action",
            Val::str(e.rule_action().map(|a| a.as_str()).unwrap_or_default()),
        ),
    ];
    // A port range applies to TCP and UDP only (EC2 API reference, NetworkAclEntry: "TCP or UDP
    // protocols: The range of ports the rule applies to"); whatever EC2 echoes for others is
    // not part of the rule.
    if let (Some(r), "6" | "17") = (e.port_range(), protocol) {
        m.push(("from_port", Val::Int(r.from().unwrap_or(0).into())));
        m.push(("to_port", Val::Int(r.to().unwrap_or(0).into())));
    }
    Some(Val::map(m))
}

fn entries_of(acl: &NetworkAcl) -> Val {
    let mut entries: Vec<Val> = acl.entries().iter().filter_map(entry_val).collect();
    entries.sort_by_key(|e| {
        let m = e.as_map().expect("entries are maps");
        (
            m.get("egress").and_then(Val::as_bool),
            m.get("rule").and_then(Val::as_i64),
        )
    });
    Val::List(entries)
}

/// (egress, rule number) of an entry.
fn key(e: &Val) -> (bool, i32) {
    let m = e.as_map();
    let get = |k: &str| m.and_then(|m| m.get(k));
    (
        get("egress").and_then(Val::as_bool).unwrap_or(false),
        get("rule").and_then(Val::as_i64).unwrap_or(0) as i32,
    )
}

async fn put_entry(ctx: &Ctx<'_>, acl: &str, e: &Val, replace: bool) -> Result<()> {
    let m = e
        .as_map()
        .ok_or_else(|| anyhow!("a network ACL entry must be a table"))?;
    let text = |k: &str| {
        m.get(k)
            .and_then(Val::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (egress, rule) = key(e);
    let ports = match (
        m.get("from_port").and_then(Val::as_i64),
        m.get("to_port").and_then(Val::as_i64),
    ) {
        (Some(from), Some(to)) => {
            Some(PortRange::builder().from(from as i32).to(to as i32).build())
        }
        _ => None,
    };
    let action = RuleAction::from(text("action").as_str());
    let cidr = text("cidr");
    let (v4, v6) = match cidr.contains(':') {
        true => (None, Some(cidr)),
        false => (Some(cidr), None),
    };
    let doing = format!("setting rule {rule} of network ACL {acl}");
    // CreateNetworkAclEntry and ReplaceNetworkAclEntry take the same fields.
    macro_rules! entry {
        ($request:expr) => {
            $request
                .network_acl_id(acl)
                .rule_number(rule)
                .egress(egress)
                .protocol(text("protocol"))
                .set_cidr_block(v4)
                .set_ipv6_cidr_block(v6)
                .rule_action(action)
                .set_port_range(ports)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(&doing, e))
        };
    }
    if replace {
        entry!(ctx.clients.ec2.replace_network_acl_entry())
    } else {
        entry!(ctx.clients.ec2.create_network_acl_entry())
    }
}

/// Deletes an entry; one already gone (another subnet's move emptied the default ACL at the
/// same moment) counts as deleted.
async fn delete_entry(ctx: &Ctx<'_>, acl: &str, egress: bool, rule: i32) -> Result<()> {
    match ctx
        .clients
        .ec2
        .delete_network_acl_entry()
        .network_acl_id(acl)
        .rule_number(rule)
        .egress(egress)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e).as_deref() == Some("InvalidNetworkAclEntry.NotFound") => Ok(()),
        Err(e) => Err(aws_error(
            &format!("deleting rule {rule} of network ACL {acl}"),
            e,
        )),
    }
}

/// Makes the entries of `acl` those of `want`, given those it has.
async fn converge(ctx: &Ctx<'_>, acl: &str, want: &[Val], have: &[Val]) -> Result<()> {
    for e in want {
        match have.iter().find(|h| key(h) == key(e)) {
            Some(h) if h.same_as(e) => {}
            Some(_) => put_entry(ctx, acl, e, true).await?,
            None => put_entry(ctx, acl, e, false).await?,
        }
    }
    for h in have {
        if !want.iter().any(|e| key(e) == key(h)) {
            let (egress, rule) = key(h);
            delete_entry(ctx, acl, egress, rule).await?;
        }
    }
    Ok(())
}

pub(super) async fn describe(
    ctx: &Ctx<'_>,
    filters: Vec<aws_sdk_ec2::types::Filter>,
) -> Result<Vec<NetworkAcl>> {
    list(&ctx.clients.ec2, filters).await
}

/// The network ACLs `filters` select, every page. Also used by kill-az, which acts outside a
/// deployment context (`aws::chaos`).
pub async fn list(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<aws_sdk_ec2::types::Filter>,
) -> Result<Vec<NetworkAcl>> {
    ec2.describe_network_acls()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("listing network ACLs", e))
}

/// Moves `subnet`, now on the ACL of `association`, onto `acl`.
pub async fn replace_association(
    ec2: &aws_sdk_ec2::Client,
    subnet: &str,
    association: &str,
    acl: &str,
) -> Result<()> {
    ec2.replace_network_acl_association()
        .association_id(association)
        .network_acl_id(acl)
        .send()
        .await
        .map_err(|e| aws_error(&format!("moving subnet {subnet} onto network ACL {acl}"), e))?;
    Ok(())
}

/// Deletes a network ACL, waiting while EC2 still counts a subnet on it; one already gone is fine.
pub async fn delete_acl(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<()> {
    delete_waiting(
        &["DependencyViolation", "InvalidNetworkAclID.InUse"],
        "InvalidNetworkAclID.NotFound",
        || async {
            ec2.delete_network_acl()
                .network_acl_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting network ACL {id}"), e))
        },
    )
    .await
}

/// Moves `subnet` onto `acl` (a subnet is always on exactly one ACL: its association is
/// replaced, not added; EC2 API reference, ReplaceNetworkAclAssociation). When that takes it off
/// the VPC's default ACL, empties the default ACL if no subnet is left on it. This is the
/// subnet's doing, not the VPC's, because only once the last subnet has moved may the default
/// ACL admit nothing; the VPC empties it itself when it is made, before any subnet exists.
pub async fn associate(ctx: &Ctx<'_>, subnet: &str, acl: &str) -> Result<()> {
    let current = describe(ctx, vec![filter("association.subnet-id", subnet)]).await?;
    let Some((on, association)) = current.iter().find_map(|a| {
        let assoc = a
            .associations()
            .iter()
            .find(|x| x.subnet_id() == Some(subnet))?;
        Some((a, assoc.network_acl_association_id()?.to_string()))
    }) else {
        anyhow::bail!("subnet {subnet} is on no network ACL that EC2 reports");
    };
    if on.network_acl_id() == Some(acl) {
        return Ok(());
    }
    replace_association(&ctx.clients.ec2, subnet, &association, acl).await?;
    if let (Some(true), Some(vpc)) = (on.is_default(), on.vpc_id()) {
        // Read again after the move: subnets move in parallel, and only a read made after
        // every move sees the default ACL without subnets.
        close_default_acl(ctx, vpc).await?;
    }
    Ok(())
}

/// The VPC's default ACL.
async fn default_acl(ctx: &Ctx<'_>, vpc: &str) -> Result<Option<NetworkAcl>> {
    let acls = describe(ctx, vec![filter("vpc-id", vpc), filter("default", "true")]).await?;
    Ok(acls.into_iter().next())
}

/// Whether the VPC's default ACL admits anything.
pub async fn default_acl_open(ctx: &Ctx<'_>, vpc: &str) -> Result<bool> {
    Ok(default_acl(ctx, vpc).await?.is_some_and(|a| {
        a.entries()
            .iter()
            .any(|e| e.rule_action() == Some(&RuleAction::Allow))
    }))
}

/// Removes the default ACL's allow rules, once no subnet of the VPC is on it (never cutting a
/// subnet off: one still there is moved first, by its own update).
pub async fn close_default_acl(ctx: &Ctx<'_>, vpc: &str) -> Result<()> {
    let Some(default) = default_acl(ctx, vpc).await? else {
        return Ok(());
    };
    if !default.associations().is_empty() {
        tracing::info!("the default network ACL of {vpc} still has subnets: left as it is");
        return Ok(());
    }
    let id = default.network_acl_id().unwrap_or_default();
    for e in default.entries() {
        if e.rule_action() == Some(&RuleAction::Allow) {
            if let Some(rule) = e.rule_number().filter(|r| *r < FIRST_CATCH_ALL_RULE) {
                delete_entry(ctx, id, e.egress().unwrap_or(false), rule).await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Provider for NetworkAclProvider {
    fn kind(&self) -> Kind {
        Kind::NetworkAcl
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let mut found = Vec::new();
        for acl in describe(ctx, vec![owned_filter(ctx)]).await? {
            let Some((id, stack)) = ec2_owner(ctx, acl.tags()) else {
                continue;
            };
            let acl_id = acl.network_acl_id().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::NetworkAcl, acl_id)
                .prop("vpc_id", Val::str(acl.vpc_id().unwrap_or_default()))
                .prop("entries", entries_of(&acl))
                .output("id", acl_id);
            o.name = ec2_name(acl.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_network_acl()
            .vpc_id(s(spec, "vpc_id")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::NetworkAcl))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating network ACL {}", spec.name), e))?;
        let id = out
            .network_acl()
            .and_then(|a| a.network_acl_id())
            .ok_or_else(|| anyhow!("CreateNetworkAcl returned no id"))?
            .to_string();
        let want = spec
            .props
            .get("entries")
            .map(Val::as_list)
            .unwrap_or_default();
        converge(ctx, &id, want, &[]).await?;
        Ok(observed_from_spec(spec, &id).output("id", &id))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let want = spec
            .props
            .get("entries")
            .map(Val::as_list)
            .unwrap_or_default();
        let have = current
            .props
            .get("entries")
            .map(Val::as_list)
            .unwrap_or_default();
        converge(ctx, &current.physical_id, want, have).await?;
        Ok(updated_in_place(spec, current).output("id", &current.physical_id))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        // Refused while a subnet is on it (a subnet being deleted, still).
        delete_acl(&ctx.clients.ec2, &current.physical_id).await
    }
}
