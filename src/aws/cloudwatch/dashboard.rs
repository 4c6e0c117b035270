//! The deployment's CloudWatch dashboards. Dashboards carry no tags: the deployment's are the
//! one named `<deployment>-overview` and, for a deployment too large for one, its pages
//! `<deployment>-overview-<n>`. Its body is kept as structured data, so the plan compares
//! widgets, not JSON text.

use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, error_code, observed_from_spec, read_each, updated_in_place};
use crate::deployment::physical_name;
use crate::expand::dashboard_page;
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;

/// Every attribute of a cloudwatch dashboard: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(Kind::Dashboard, &[Attr::new("body")]);

pub struct DashboardProvider;

/// JSON as an attribute value (numbers without a fraction become integers).
pub fn val_of(json: &serde_json::Value) -> Val {
    use serde_json::Value as J;
    match json {
        J::Null => Val::Str(String::new()),
        J::Bool(b) => Val::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Val::Int(i),
            None => Val::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Val::Str(s.clone()),
        J::Array(items) => Val::List(items.iter().map(val_of).collect()),
        J::Object(m) => Val::Map(m.iter().map(|(k, v)| (k.clone(), val_of(v))).collect()),
    }
}

/// Which page `name` would be, for the first page's name `first` (`first`, or `first-<n>`);
/// the caller checks the name is exactly that page's.
fn page_of(name: &str, first: &str) -> Option<usize> {
    match name.strip_prefix(first)? {
        "" => Some(1),
        rest => rest.strip_prefix('-')?.parse().ok(),
    }
}

async fn put(ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<()> {
    let body = serde_json::to_string(
        spec.props
            .get("body")
            .unwrap_or(&Val::map(Vec::<(String, Val)>::new())),
    )?;
    let out = ctx
        .clients
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&spec.name)
        .dashboard_body(body)
        .send()
        .await
        .map_err(|e| aws_error(&format!("writing dashboard {}", spec.name), e))?;
    if let Some(problem) = out.dashboard_validation_messages().first() {
        anyhow::bail!(
            "dashboard {}: CloudWatch says {} ({})",
            spec.name,
            problem.message().unwrap_or_default(),
            problem.data_path().unwrap_or_default()
        );
    }
    Ok(())
}

#[async_trait]
impl Provider for DashboardProvider {
    fn kind(&self) -> Kind {
        Kind::Dashboard
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// The pages are named `<deployment>-overview` and `<deployment>-overview-<n>`: one listing
    /// by that prefix finds them (also a page a smaller stack no longer needs), then one
    /// GetDashboard per page reads its body.
    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let first = physical_name(ctx.env(), "overview", 255);
        let listed: Vec<_> = ctx
            .clients
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(&first)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing dashboards", e))?;
        let pages: Vec<(String, String)> = listed
            .iter()
            .filter_map(|d| {
                let name = d.dashboard_name()?;
                let page = page_of(name, &first)?;
                let (id, suffix) = dashboard_page(page);
                (physical_name(ctx.env(), &suffix, 255) == name).then(|| (id, name.to_string()))
            })
            .collect();
        read_each(pages, |(id, name)| async move {
            let got = match ctx
                .clients
                .cloudwatch
                .get_dashboard()
                .dashboard_name(&name)
                .send()
                .await
            {
                Ok(got) => got,
                Err(e) if error_code(&e).as_deref() == Some("ResourceNotFound") => return Ok(None),
                Err(e) => return Err(aws_error(&format!("reading dashboard {name}"), e)),
            };
            let body: serde_json::Value =
                serde_json::from_str(got.dashboard_body().unwrap_or("{}")).unwrap_or_default();
            let mut o = Observed::new(&id, Kind::Dashboard, &name)
                .prop("body", val_of(&body))
                .output("arn", got.dashboard_arn().unwrap_or_default());
            o.name = name;
            Ok(Some(o))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        put(ctx, spec).await?;
        Ok(observed_from_spec(spec, &spec.name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        put(ctx, spec).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        match ctx
            .clients
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(&current.physical_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("ResourceNotFound") => Ok(()),
            Err(e) => Err(aws_error(
                &format!("deleting dashboard {}", current.physical_id),
                e,
            )),
        }
    }
}
