//! Route tables with their routes and subnet associations.

use super::tags::{ec2_name, ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, observed_from_spec, s, str_list, strs};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use std::collections::BTreeMap;

/// Every attribute of an ec2 route table: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::RouteTable,
    &[
        Attr::new("routes"),
        Attr::new("subnet_ids"),
        Attr::new("vpc_id").replaces(),
    ],
);

pub struct RouteTableProvider;

/// destination -> target (gateway or NAT gateway id), from a resolved spec.
fn wanted_routes(spec: &ResourceSpec) -> BTreeMap<String, String> {
    spec.props
        .get("routes")
        .map(|v| {
            v.as_list()
                .iter()
                .filter_map(|r| {
                    let m = r.as_map()?;
                    Some((
                        m.get("destination")?.as_str()?.to_string(),
                        m.get("target")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn routes_val(routes: &BTreeMap<String, String>) -> Val {
    Val::list(
        routes
            .iter()
            .map(|(d, t)| Val::map([("destination", Val::str(d)), ("target", Val::str(t))])),
    )
}

async fn add_route(ctx: &Ctx<'_>, table: &str, dest: &str, target: &str) -> Result<()> {
    let mut req = ctx
        .clients
        .ec2
        .create_route()
        .route_table_id(table)
        .destination_cidr_block(dest);
    req = if target.starts_with("nat-") {
        req.nat_gateway_id(target)
    } else {
        req.gateway_id(target)
    };
    req.send()
        .await
        .map_err(|e| aws_error(&format!("adding route {dest} -> {target} to {table}"), e))?;
    Ok(())
}

#[async_trait]
impl Provider for RouteTableProvider {
    fn kind(&self) -> Kind {
        Kind::RouteTable
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_route_tables()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing route tables", e))?;
        let mut found = Vec::new();
        for rt in out.route_tables() {
            let Some((id, stack)) = ec2_owner(ctx, rt.tags()) else {
                continue;
            };
            let routes: BTreeMap<String, String> = rt
                .routes()
                .iter()
                .filter_map(|r| {
                    let dest = r.destination_cidr_block()?;
                    let target = r.nat_gateway_id().or(r.gateway_id())?;
                    (target != "local").then(|| (dest.to_string(), target.to_string()))
                })
                .collect();
            let subnets: Vec<String> = rt
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
                .filter_map(|a| a.subnet_id().map(str::to_string))
                .collect();
            let mut o = Observed::new(
                &id,
                Kind::RouteTable,
                rt.route_table_id().unwrap_or_default(),
            )
            .prop("vpc_id", Val::str(rt.vpc_id().unwrap_or_default()))
            .prop("routes", routes_val(&routes))
            .prop("subnet_ids", str_list(subnets));
            o.name = ec2_name(rt.tags());
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_route_table()
            .vpc_id(s(spec, "vpc_id")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::RouteTable))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating route table {}", spec.name), e))?;
        let id = out
            .route_table()
            .and_then(|r| r.route_table_id())
            .ok_or_else(|| anyhow!("CreateRouteTable returned no id"))?
            .to_string();
        let current = Observed::new(&spec.id, Kind::RouteTable, &id)
            .prop("routes", Val::list([]))
            .prop("subnet_ids", Val::list([]));
        self.update(ctx, spec, &current).await
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let table = current.physical_id.as_str();
        let want = wanted_routes(spec);
        let have: BTreeMap<String, String> = current
            .props
            .get("routes")
            .map(|v| {
                v.as_list()
                    .iter()
                    .filter_map(|r| {
                        let m = r.as_map()?;
                        Some((
                            m.get("destination")?.as_str()?.to_string(),
                            m.get("target")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (dest, _) in have.iter().filter(|(d, _)| !want.contains_key(*d)) {
            ctx.clients
                .ec2
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(dest)
                .send()
                .await
                .map_err(|e| aws_error(&format!("removing route {dest} from {table}"), e))?;
        }
        for (dest, target) in &want {
            match have.get(dest) {
                Some(t) if t == target => {}
                Some(_) => {
                    ctx.clients
                        .ec2
                        .delete_route()
                        .route_table_id(table)
                        .destination_cidr_block(dest)
                        .send()
                        .await
                        .map_err(|e| aws_error(&format!("replacing route {dest} in {table}"), e))?;
                    add_route(ctx, table, dest, target).await?;
                }
                None => add_route(ctx, table, dest, target).await?,
            }
        }
        let want_subnets = strs(spec, "subnet_ids");
        let have_subnets: Vec<String> = current
            .props
            .get("subnet_ids")
            .map(|v| {
                v.as_list()
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if want_subnets.iter().any(|s| !have_subnets.contains(s))
            || have_subnets.iter().any(|s| !want_subnets.contains(s))
        {
            // Association ids are needed to disassociate; read them fresh.
            let out = ctx
                .clients
                .ec2
                .describe_route_tables()
                .route_table_ids(table)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading route table {table}"), e))?;
            for rt in out.route_tables() {
                for a in rt.associations() {
                    let Some(subnet) = a.subnet_id() else {
                        continue;
                    };
                    if !want_subnets.iter().any(|w| w == subnet) {
                        if let Some(assoc) = a.route_table_association_id() {
                            ctx.clients
                                .ec2
                                .disassociate_route_table()
                                .association_id(assoc)
                                .send()
                                .await
                                .map_err(|e| {
                                    aws_error(&format!("disassociating {subnet} from {table}"), e)
                                })?;
                        }
                    }
                }
            }
            for subnet in want_subnets.iter().filter(|s| !have_subnets.contains(s)) {
                ctx.clients
                    .ec2
                    .associate_route_table()
                    .route_table_id(table)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("associating {subnet} with {table}"), e))?;
            }
        }
        Ok(observed_from_spec(spec, table))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let table = current.physical_id.as_str();
        let out = match ctx
            .clients
            .ec2
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if error_code(&e).as_deref() == Some("InvalidRouteTableID.NotFound") => {
                return Ok(())
            }
            Err(e) => return Err(aws_error(&format!("reading route table {table}"), e)),
        };
        for rt in out.route_tables() {
            for a in rt
                .associations()
                .iter()
                .filter(|a| !a.main().unwrap_or(false))
            {
                if let Some(assoc) = a.route_table_association_id() {
                    ctx.clients
                        .ec2
                        .disassociate_route_table()
                        .association_id(assoc)
                        .send()
                        .await
                        .map_err(|e| aws_error(&format!("disassociating {assoc}"), e))?;
                }
            }
        }
        ctx.clients
            .ec2
            .delete_route_table()
            .route_table_id(table)
            .send()
            .await
            .map_err(|e| aws_error(&format!("deleting route table {table}"), e))?;
        Ok(())
    }
}
