//! DocumentDB cluster parameter groups: the settings a cluster's instances run with — here TLS
//! 1.2 or later required of every client (parameter `tls`, DocumentDB Developer Guide,
//! "Encrypting data in transit"). `tls` is static: a changed value applies at the instances'
//! next reboot, which is why the group is made before the cluster that names it.
//!
//! Only the parameters ftctl sets are compared (`DescribeDBClusterParameters`, `Source=user`).
//! DocumentDB reports a static parameter's apply method as pending-reboot whatever was sent
//! (hashicorp/terraform-provider-aws#35855), so the method is never compared.

use super::tags::{docdb_owner, docdb_tags};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, observed_from_spec, parameters_to_set, s, updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_docdb::types::{ApplyMethod, Parameter};

/// Every attribute of a docdb cluster parameter group.
static SCHEMA: Schema = Schema::new(
    Kind::DocdbParameterGroup,
    &[
        // Neither changes after creation (ModifyDBClusterParameterGroup takes parameters only).
        Attr::new("description").replaces(),
        Attr::new("family").replaces(),
        Attr::new("parameters"),
    ],
);

pub struct DocdbParameterGroupProvider;

/// The parameters to set, as DocumentDB takes them: `tls` is static, so pending-reboot.
fn as_parameters(values: Vec<(String, String)>) -> Vec<Parameter> {
    values
        .into_iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                .apply_method(ApplyMethod::PendingReboot)
                .build()
        })
        .collect()
}

async fn set_parameters(ctx: &Ctx<'_>, name: &str, params: Vec<Parameter>) -> Result<()> {
    // At most 20 per call (DocumentDB API reference, ModifyDBClusterParameterGroup).
    for chunk in params.chunks(20) {
        ctx.clients
            .docdb
            .modify_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(name)
            .set_parameters(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting parameters of {name}"), e))?;
    }
    Ok(())
}

async fn user_parameters(ctx: &Ctx<'_>, name: &str) -> Result<Val> {
    let params: Vec<Parameter> = ctx
        .clients
        .docdb
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(name)
        .source("user")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error(&format!("reading parameters of {name}"), e))?;
    Ok(Val::map(params.iter().filter_map(|p| {
        Some((
            p.parameter_name()?.to_string(),
            Val::str(p.parameter_value().unwrap_or_default()),
        ))
    })))
}

#[async_trait]
impl Provider for DocdbParameterGroupProvider {
    fn kind(&self) -> Kind {
        Kind::DocdbParameterGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let groups: Vec<_> = ctx
            .clients
            .docdb
            .describe_db_cluster_parameter_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing DocumentDB cluster parameter groups", e))?;
        let mut found = Vec::new();
        // The listing holds Aurora's and Neptune's cluster groups too: DocumentDB's families.
        for g in groups.iter().filter(|g| {
            g.db_cluster_parameter_group_name()
                .is_some_and(|n| n.starts_with(&prefix))
                && g.db_parameter_group_family()
                    .is_some_and(|f| f.starts_with("docdb"))
        }) {
            let arn = g.db_cluster_parameter_group_arn().unwrap_or_default();
            let Some((id, stack)) = docdb_owner(ctx, arn).await? else {
                continue;
            };
            let name = g.db_cluster_parameter_group_name().unwrap_or_default();
            let mut o = Observed::new(&id, Kind::DocdbParameterGroup, name)
                .prop(
                    "family",
                    Val::str(g.db_parameter_group_family().unwrap_or_default()),
                )
                .prop("description", Val::str(g.description().unwrap_or_default()))
                .prop("parameters", user_parameters(ctx, name).await?)
                .output("name", name)
                .output("arn", arn);
            o.name = name.to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .docdb
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(&spec.name)
            .db_parameter_group_family(s(spec, "family")?)
            .description(s(spec, "description")?)
            .set_tags(Some(docdb_tags(ctx, spec)))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    &format!("creating DocumentDB cluster parameter group {}", spec.name),
                    e,
                )
            })?;
        set_parameters(
            ctx,
            &spec.name,
            as_parameters(parameters_to_set(spec, None)?),
        )
        .await?;
        let arn = out
            .db_cluster_parameter_group()
            .and_then(|g| g.db_cluster_parameter_group_arn())
            .unwrap_or_default();
        Ok(observed_from_spec(spec, &spec.name)
            .output("name", &spec.name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        // Only the values that differ; they apply at each instance's next reboot.
        let name = current.physical_id.as_str();
        let differing = as_parameters(parameters_to_set(spec, Some(current))?);
        set_parameters(ctx, name, differing).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.clone();
        // Refused while a cluster still uses it (one being deleted, still): wait that out.
        delete_waiting(
            &["InvalidDBParameterGroupState"],
            "DBParameterGroupNotFound",
            || async {
                ctx.clients
                    .docdb
                    .delete_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        coded(
                            &format!("deleting DocumentDB cluster parameter group {name}"),
                            e,
                        )
                    })
            },
        )
        .await
    }
}
