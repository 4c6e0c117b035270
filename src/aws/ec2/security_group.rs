//! Security groups and their ingress rules. Egress stays at the AWS default (all outbound). A
//! rule's source is a CIDR block, a group id, or the name of an AWS-managed prefix list (such as
//! CloudFront's origin-facing addresses), whose id differs by region and is looked up by name.

use super::tags::{ec2_owner, ec2_tags, owned_filter};
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{aws_error, coded, delete_waiting, error_code, observed_from_spec, s};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::{anyhow, Result};
use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, PrefixListId, ResourceType, UserIdGroupPair};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;

/// Every attribute of an ec2 security group: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::SecurityGroup,
    &[
        Attr::new("description").replaces(),
        Attr::new("ingress"),
        Attr::new("vpc_id").replaces(),
    ],
);

pub struct SecurityGroupProvider;

/// One ingress rule, as compared: protocol, port range, source (CIDR or group id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: i32,
    to: i32,
    source: String,
}

impl Rule {
    fn to_val(&self) -> Val {
        Val::map([
            ("protocol", Val::str(&self.protocol)),
            ("from_port", Val::Int(self.from.into())),
            ("to_port", Val::Int(self.to.into())),
            ("source", Val::str(&self.source)),
        ])
    }

    fn from_val(v: &Val) -> Option<Rule> {
        let m = v.as_map()?;
        Some(Rule {
            protocol: m.get("protocol")?.as_str()?.to_string(),
            from: m.get("from_port")?.as_i64()? as i32,
            to: m.get("to_port")?.as_i64()? as i32,
            source: m.get("source")?.as_str()?.to_string(),
        })
    }

    /// The rule as EC2 takes it; `lists` holds the ids of the prefix lists rules name.
    fn permission(&self, lists: &HashMap<String, String>) -> IpPermission {
        let b = IpPermission::builder()
            .ip_protocol(&self.protocol)
            .from_port(self.from)
            .to_port(self.to);
        if let Some(id) = lists.get(&self.source) {
            b.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
                .build()
        } else if self.source.starts_with("sg-") {
            b.user_id_group_pairs(UserIdGroupPair::builder().group_id(&self.source).build())
                .build()
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(&self.source).build())
                .build()
        }
    }
}

/// Whether a rule's source names a prefix list (AWS-managed ones are `com.amazonaws.…`).
fn names_prefix_list(source: &str) -> bool {
    source.starts_with("com.amazonaws.")
}

/// The prefix lists matching `filter` (`prefix-list-name` or `prefix-list-id`), as
/// (name, id) pairs; no request when there are no values.
async fn prefix_lists(
    ctx: &Ctx<'_>,
    filter: &str,
    values: Vec<String>,
) -> Result<Vec<(String, String)>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let out = ctx
        .clients
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(filter)
                .set_values(Some(values))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("looking up managed prefix lists", e))?;
    Ok(out
        .prefix_lists()
        .iter()
        .filter_map(|l| Some((l.prefix_list_name()?.into(), l.prefix_list_id()?.into())))
        .collect())
}

fn rules_of(v: Option<&Val>) -> Vec<Rule> {
    v.map(|v| v.as_list().iter().filter_map(Rule::from_val).collect())
        .unwrap_or_default()
}

#[async_trait]
impl Provider for SecurityGroupProvider {
    fn kind(&self) -> Kind {
        Kind::SecurityGroup
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        let out = ctx
            .clients
            .ec2
            .describe_security_groups()
            .filters(owned_filter(ctx))
            .send()
            .await
            .map_err(|e| aws_error("listing security groups", e))?;
        let mut found = Vec::new();
        for sg in out.security_groups() {
            let Some((id, stack)) = ec2_owner(ctx, sg.tags()) else {
                continue;
            };
            let mut rules = Vec::new();
            for p in sg.ip_permissions() {
                let protocol = p.ip_protocol().unwrap_or("-1").to_string();
                let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
                for r in p.ip_ranges() {
                    rules.push(Rule {
                        protocol: protocol.clone(),
                        from,
                        to,
                        source: r.cidr_ip().unwrap_or_default().to_string(),
                    });
                }
                for g in p.user_id_group_pairs() {
                    rules.push(Rule {
                        protocol: protocol.clone(),
                        from,
                        to,
                        source: g.group_id().unwrap_or_default().to_string(),
                    });
                }
                for l in p.prefix_list_ids() {
                    rules.push(Rule {
                        protocol: protocol.clone(),
                        from,
                        to,
                        source: l.prefix_list_id().unwrap_or_default().to_string(),
                    });
                }
            }
            rules.sort();
            let mut o = Observed::new(&id, Kind::SecurityGroup, sg.group_id().unwrap_or_default())
                .prop("vpc_id", Val::str(sg.vpc_id().unwrap_or_default()))
                .prop(
                    "description",
                    Val::str(sg.description().unwrap_or_default()),
                )
                .prop("ingress", Val::list(rules.iter().map(Rule::to_val)));
            o.name = sg.group_name().unwrap_or_default().to_string();
            o.stack = stack;
            found.push(o);
        }
        // Prefix lists by name, as the stack names them: one lookup for every group.
        let ids: Vec<String> = found
            .iter()
            .flat_map(|o| rules_of(o.props.get("ingress")))
            .filter(|r| r.source.starts_with("pl-"))
            .map(|r| r.source)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let names: HashMap<String, String> = prefix_lists(ctx, "prefix-list-id", ids)
            .await?
            .into_iter()
            .map(|(name, id)| (id, name))
            .collect();
        if !names.is_empty() {
            for o in &mut found {
                let mut rules = rules_of(o.props.get("ingress"));
                for r in &mut rules {
                    if let Some(name) = names.get(&r.source) {
                        r.source = name.clone();
                    }
                }
                rules.sort();
                o.props
                    .insert("ingress".into(), Val::list(rules.iter().map(Rule::to_val)));
            }
        }
        Ok(found)
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let out = ctx
            .clients
            .ec2
            .create_security_group()
            .group_name(&spec.name)
            .description(s(spec, "description")?)
            .vpc_id(s(spec, "vpc_id")?)
            .tag_specifications(ec2_tags(ctx, spec, ResourceType::SecurityGroup))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating security group {}", spec.name), e))?;
        let id = out
            .group_id()
            .ok_or_else(|| anyhow!("CreateSecurityGroup returned no id"))?
            .to_string();
        let current =
            Observed::new(&spec.id, Kind::SecurityGroup, &id).prop("ingress", Val::list([]));
        self.update(ctx, spec, &current).await
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let group = current.physical_id.as_str();
        // A group whose rules another service keeps (EMR's managed groups) has no `ingress`
        // in its spec: its rules are left alone.
        if !spec.props.contains_key("ingress") {
            return Ok(observed_from_spec(spec, group));
        }
        let want = rules_of(spec.props.get("ingress"));
        let have = rules_of(current.props.get("ingress"));
        let mut named: Vec<String> = want
            .iter()
            .chain(&have)
            .filter(|r| names_prefix_list(&r.source))
            .map(|r| r.source.clone())
            .collect();
        named.sort();
        named.dedup();
        let lists: HashMap<String, String> = prefix_lists(ctx, "prefix-list-name", named.clone())
            .await?
            .into_iter()
            .collect();
        if let Some(missing) = named.iter().find(|n| !lists.contains_key(*n)) {
            anyhow::bail!(
                "security group {group}: region {} has no managed prefix list named {missing}",
                ctx.clients.region
            );
        }
        let revoke: Vec<IpPermission> = have
            .iter()
            .filter(|r| !want.contains(r))
            .map(|r| r.permission(&lists))
            .collect();
        let add: Vec<IpPermission> = want
            .iter()
            .filter(|r| !have.contains(r))
            .map(|r| r.permission(&lists))
            .collect();
        if !revoke.is_empty() {
            ctx.clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(revoke))
                .send()
                .await
                .map_err(|e| aws_error(&format!("revoking ingress rules of {group}"), e))?;
        }
        if !add.is_empty() {
            ctx.clients
                .ec2
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(add))
                .tag_specifications(ec2_tags(ctx, spec, ResourceType::SecurityGroupRule))
                .send()
                .await
                .map_err(|e| aws_error(&format!("authorizing ingress rules of {group}"), e))?;
        }
        Ok(observed_from_spec(spec, group))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let id = current.physical_id.clone();
        revoke_group_references(ctx, &id).await?;
        // Network interfaces of deleted load balancers and databases keep the group in use for
        // a while after their owner is gone.
        delete_waiting(
            &["DependencyViolation"],
            "InvalidGroup.NotFound",
            || async {
                ctx.clients
                    .ec2
                    .delete_security_group()
                    .group_id(&id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| coded(&format!("deleting security group {id}"), e))
            },
        )
        .await
    }
}

/// A revocation's error, unless it is that a named group is gone already: that blocks nothing.
fn unless_group_gone<T, E>(revoked: Result<T, SdkError<E, HttpResponse>>, id: &str) -> Result<()>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match revoked {
        Err(e) if error_code(&e).as_deref() != Some("InvalidGroup.NotFound") => Err(aws_error(
            &format!("revoking rules of {id} that name other groups"),
            e,
        )),
        _ => Ok(()),
    }
}

/// Revokes the group's rules that name other groups. Groups whose rules name each other (as
/// EMR's managed master, core and service-access groups do) cannot be deleted while those
/// rules stand; deleting them one by one then converges.
async fn revoke_group_references(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let ec2 = &ctx.clients.ec2;
    let out = match ec2.describe_security_groups().group_ids(id).send().await {
        Ok(out) => out,
        Err(e) if error_code(&e).as_deref() == Some("InvalidGroup.NotFound") => return Ok(()),
        Err(e) => return Err(aws_error(&format!("reading security group {id}"), e)),
    };
    let Some(group) = out.security_groups().first() else {
        return Ok(());
    };
    let naming_groups = |perms: &[IpPermission]| -> Vec<IpPermission> {
        perms
            .iter()
            .filter(|p| !p.user_id_group_pairs().is_empty())
            .map(|p| {
                IpPermission::builder()
                    .ip_protocol(p.ip_protocol().unwrap_or("-1"))
                    .set_from_port(p.from_port())
                    .set_to_port(p.to_port())
                    .set_user_id_group_pairs(Some(
                        p.user_id_group_pairs()
                            .iter()
                            .map(|g| {
                                UserIdGroupPair::builder()
                                    .set_group_id(g.group_id().map(str::to_string))
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            })
            .collect()
    };
    let ingress = naming_groups(group.ip_permissions());
    if !ingress.is_empty() {
        let revoked = ec2
            .revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await;
        unless_group_gone(revoked, id)?;
    }
    let egress = naming_groups(group.ip_permissions_egress());
    if !egress.is_empty() {
        let revoked = ec2
            .revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(egress))
            .send()
            .await;
        unless_group_gone(revoked, id)?;
    }
    Ok(())
}
