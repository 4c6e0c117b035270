//! Application Load Balancers.

use super::target_group::{elb_owner, elb_tag_list, elb_tags};
use super::*;
use crate::resource::Val;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};

pub struct LoadBalancerProvider;

#[async_trait]
impl Provider for LoadBalancerProvider {
    fn kind(&self) -> Kind {
        Kind::LoadBalancer
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let prefix = ctx.name_prefix();
        let lbs: Vec<_> = ctx
            .clients
            .elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing load balancers", e))?
            .into_iter()
            .filter(|l| {
                l.load_balancer_name()
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        let arns: Vec<String> = lbs
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_string))
            .collect();
        let tags = elb_tags(ctx, &arns).await?;
        let mut found = Vec::new();
        for l in lbs {
            let arn = l.load_balancer_arn().unwrap_or_default();
            let Some((id, stack)) = elb_owner(ctx, tags.get(arn)) else {
                continue;
            };
            let subnets: Vec<String> = l
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect();
            let mut o = Observed::new(&id, Kind::LoadBalancer, arn)
                .prop(
                    "type",
                    Val::str(l.r#type().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop(
                    "scheme",
                    Val::str(l.scheme().map(|t| t.as_str()).unwrap_or_default()),
                )
                .prop("subnet_ids", str_list(subnets))
                .prop("security_group_ids", str_list(l.security_groups().to_vec()))
                .output("arn", arn)
                .output("arn_suffix", arn_suffix(arn))
                .output("dns_name", l.dns_name().unwrap_or_default())
                .output("zone_id", l.canonical_hosted_zone_id().unwrap_or_default())
                .output("name", l.load_balancer_name().unwrap_or_default());
            o.name = l.load_balancer_name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(o);
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .elb
            .create_load_balancer()
            .name(&spec.name)
            .r#type(LoadBalancerTypeEnum::from(s(spec, "type")?))
            .scheme(LoadBalancerSchemeEnum::from(s(spec, "scheme")?))
            .set_subnets(Some(strs(spec, "subnet_ids")))
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .set_tags(Some(elb_tag_list(ctx, spec)))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating load balancer {}", spec.name), e))?;
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| anyhow!("CreateLoadBalancer returned nothing"))?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        ctx.clients
            .elb
            .wait_until_load_balancer_available()
            .load_balancer_arns(&arn)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| {
                waiter_error(
                    &format!("waiting for load balancer {} to become active", spec.name),
                    e,
                )
            })?;
        Ok(observed_from_spec(spec, &arn)
            .output("arn", &arn)
            .output("arn_suffix", arn_suffix(&arn))
            .output("dns_name", lb.dns_name().unwrap_or_default())
            .output("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default())
            .output("name", &spec.name))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let arn = current.physical_id.as_str();
        ctx.clients
            .elb
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(strs(spec, "subnet_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting subnets of {}", spec.name), e))?;
        ctx.clients
            .elb
            .set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(strs(spec, "security_group_ids")))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting security groups of {}", spec.name), e))?;
        let mut o = observed_from_spec(spec, arn);
        o.outputs = current.outputs.clone();
        Ok(o)
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let arn = current.physical_id.as_str();
        match ctx
            .clients
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e).as_deref() == Some("LoadBalancerNotFound") => return Ok(()),
            Err(e) => return Err(aws_error(&format!("deleting load balancer {arn}"), e)),
        }
        ctx.clients
            .elb
            .wait_until_load_balancers_deleted()
            .load_balancer_arns(arn)
            .wait(Duration::from_secs(900))
            .await
            .map_err(|e| {
                waiter_error(&format!("waiting for load balancer {arn} to be deleted"), e)
            })?;
        Ok(())
    }
}
