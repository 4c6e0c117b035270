//! IAM roles for ftctl's services: a trust policy for one AWS service and one inline policy of
//! exactly the permissions the stack lists (least privilege, no managed policies). Roles live
//! under the path `/ftctl/<deployment>/<region>/`, which is also how they are found.

use super::tags::iam_tags;
use crate::aws::ctx::Ctx;
use crate::aws::provider::Provider;
use crate::aws::sdk::{
    aws_error, coded, delete_waiting, error_code, observed_from_spec, read_each, s, str_list, strs,
    updated_in_place,
};
use crate::resource::{Kind, Observed, ResourceSpec, Val};
use crate::schema::{Attr, Schema};
use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_iam::types::RoleDetail;
use serde_json::{json, Value};

/// Every attribute of an iam role: what expansion writes and this provider reads.
static SCHEMA: Schema = Schema::new(
    Kind::IamRole,
    &[
        Attr::new("managed_policies"),
        Attr::new("statements"),
        Attr::new("trust_service"),
    ],
);

pub struct IamRoleProvider;

/// The name of the one inline policy ftctl writes on a role.
const POLICY: &str = "ftctl";

fn path(ctx: &Ctx<'_>) -> String {
    ctx.iam_path()
}

/// IAM returns policy documents URL-encoded (RFC 3986); emulators sometimes do not.
pub fn decode_policy(doc: &str) -> Option<Value> {
    let text = if doc.trim_start().starts_with('{') {
        doc.to_string()
    } else {
        let bytes = doc.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()?
    };
    serde_json::from_str(&text).ok()
}

/// A JSON field that may be one string or a list of them.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The statements of a policy document, in ftctl's form (`{ actions, resources }`).
pub fn statements_of(doc: &Value) -> Val {
    let list = match &doc["Statement"] {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    Val::List(
        list.iter()
            .filter(|s| s["Effect"] == "Allow")
            .map(|s| {
                Val::map([
                    ("actions", str_list(strings(&s["Action"]))),
                    ("resources", str_list(strings(&s["Resource"]))),
                ])
            })
            .collect(),
    )
}

/// The policy document for ftctl-form statements.
pub fn policy_document(statements: &Val) -> String {
    let statements: Vec<Value> = statements
        .as_list()
        .iter()
        .filter_map(|s| s.as_map())
        .map(|s| {
            let list = |k: &str| s.get(k).map(Val::strings).unwrap_or_default();
            json!({ "Effect": "Allow", "Action": list("actions"), "Resource": list("resources") })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

fn trust_document(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// Attaches the AWS managed policies `want` lists and detaches the others.
async fn sync_managed(ctx: &Ctx<'_>, role: &str, want: &[String]) -> Result<()> {
    let iam = &ctx.clients.iam;
    let have = attached(ctx, role).await?;
    for arn in want.iter().filter(|a| !have.contains(a)) {
        iam.attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(&format!("attaching {arn} to role {role}"), e))?;
    }
    for arn in have.iter().filter(|a| !want.contains(a)) {
        iam.detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(&format!("detaching {arn} from role {role}"), e))?;
    }
    Ok(())
}

/// The service a trust policy lets assume the role (several joined by commas).
fn trust_service(document: Option<&str>) -> String {
    document
        .and_then(decode_policy)
        .map(|d| {
            let s = &d["Statement"];
            let first = if s.is_array() { &s[0] } else { s };
            strings(&first["Principal"]["Service"]).join(",")
        })
        .unwrap_or_default()
}

/// A role of this deployment as GetAccountAuthorizationDetails shows it: tags, trust, inline
/// and attached policies in one record (the same documents, URL-encoded, as the per-role reads).
fn observed_from_detail(ctx: &Ctx<'_>, role: &RoleDetail) -> Option<Observed> {
    let owner = ctx.owner(role.tags().iter().map(|t| (t.key(), t.value())))?;
    let statements = role
        .role_policy_list()
        .iter()
        .find(|p| p.policy_name() == Some(POLICY))
        .and_then(|p| p.policy_document())
        .and_then(decode_policy)
        .map(|d| statements_of(&d))
        .unwrap_or(Val::List(Vec::new()));
    let managed = role
        .attached_managed_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    Some(observed_role(
        owner,
        (role.role_name()?, role.arn()?),
        trust_service(role.assume_role_policy_document()),
        statements,
        managed,
    ))
}

/// The observed role, however it was read.
fn observed_role(
    (id, stack): (String, String),
    (name, arn): (&str, &str),
    trust: String,
    statements: Val,
    managed: Vec<String>,
) -> Observed {
    let mut o = Observed::new(&id, Kind::IamRole, name)
        .prop("trust_service", Val::Str(trust))
        .prop("statements", statements)
        .prop("managed_policies", str_list(managed))
        .output("name", name)
        .output("arn", arn);
    o.name = name.to_string();
    o.stack = stack;
    o
}

/// The managed policies attached to `role` (none when the role is already gone).
async fn attached(ctx: &Ctx<'_>, role: &str) -> Result<Vec<String>> {
    let listed: Result<Vec<_>, _> = ctx
        .clients
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let policies = match listed {
        Ok(p) => p,
        Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => Vec::new(),
        Err(e) => return Err(aws_error(&format!("listing policies of role {role}"), e)),
    };
    Ok(policies
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

async fn put_policy(ctx: &Ctx<'_>, role: &str, statements: &Val) -> Result<()> {
    if statements.as_list().is_empty() {
        match ctx
            .clients
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(POLICY)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => Ok(()),
            Err(e) => Err(aws_error(&format!("removing the policy of role {role}"), e)),
        }
    } else {
        ctx.clients
            .iam
            .put_role_policy()
            .role_name(role)
            .policy_name(POLICY)
            .policy_document(policy_document(statements))
            .send()
            .await
            .map_err(|e| aws_error(&format!("writing the policy of role {role}"), e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for IamRoleProvider {
    fn kind(&self) -> Kind {
        Kind::IamRole
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    async fn observe(&self, ctx: &Ctx<'_>, _: &[Observed]) -> Result<Vec<Observed>> {
        if let Some(details) = ctx.reads.roles(ctx).await? {
            return Ok(details
                .iter()
                .filter_map(|role| observed_from_detail(ctx, role))
                .collect());
        }
        let iam = &ctx.clients.iam;
        let roles: Vec<_> = iam
            .list_roles()
            .path_prefix(path(ctx))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("listing IAM roles", e))?;
        read_each(roles, |role| async move {
            let name = role.role_name();
            let tags = iam
                .list_role_tags()
                .role_name(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading tags of role {name}"), e))?;
            let Some((id, stack)) = ctx.owner(tags.tags().iter().map(|t| (t.key(), t.value())))
            else {
                return Ok(None);
            };
            let trust = trust_service(role.assume_role_policy_document());
            let statements = match iam
                .get_role_policy()
                .role_name(name)
                .policy_name(POLICY)
                .send()
                .await
            {
                Ok(p) => decode_policy(p.policy_document())
                    .map(|d| statements_of(&d))
                    .unwrap_or(Val::List(Vec::new())),
                Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => {
                    Val::List(Vec::new())
                }
                Err(e) => return Err(aws_error(&format!("reading the policy of role {name}"), e)),
            };
            let managed = attached(ctx, name).await?;
            Ok(Some(observed_role(
                (id, stack),
                (name, role.arn()),
                trust,
                statements,
                managed,
            )))
        })
        .await
    }

    async fn create(&self, ctx: &Ctx<'_>, spec: &ResourceSpec) -> Result<Observed> {
        let name = spec.name.as_str();
        let tags = iam_tags(ctx, spec)?;
        let out = ctx
            .clients
            .iam
            .create_role()
            .role_name(name)
            .path(path(ctx))
            .description(format!("ftctl {}: {}", ctx.env(), spec.id))
            .assume_role_policy_document(trust_document(s(spec, "trust_service")?))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating role {name}"), e))?;
        put_policy(
            ctx,
            name,
            spec.props
                .get("statements")
                .unwrap_or(&Val::List(Vec::new())),
        )
        .await?;
        sync_managed(ctx, name, &strs(spec, "managed_policies")).await?;
        let arn = out.role().map(|r| r.arn()).unwrap_or_default();
        Ok(observed_from_spec(spec, name)
            .output("name", name)
            .output("arn", arn))
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        spec: &ResourceSpec,
        current: &Observed,
    ) -> Result<Observed> {
        let name = current.physical_id.as_str();
        ctx.clients
            .iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust_document(s(spec, "trust_service")?))
            .send()
            .await
            .map_err(|e| aws_error(&format!("updating the trust of role {name}"), e))?;
        put_policy(
            ctx,
            name,
            spec.props
                .get("statements")
                .unwrap_or(&Val::List(Vec::new())),
        )
        .await?;
        sync_managed(ctx, name, &strs(spec, "managed_policies")).await?;
        Ok(updated_in_place(spec, current))
    }

    async fn delete(&self, ctx: &Ctx<'_>, current: &Observed) -> Result<()> {
        let name = current.physical_id.clone();
        put_policy(ctx, &name, &Val::List(Vec::new())).await?;
        sync_managed(ctx, &name, &[]).await?;
        delete_waiting(&["DeleteConflict"], "NoSuchEntity", || async {
            ctx.clients
                .iam
                .delete_role()
                .role_name(&name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| coded(&format!("deleting role {name}"), e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_through_the_url_encoding_iam_uses() {
        let statements = Val::list([Val::map([
            ("actions", Val::list([Val::str("logs:PutLogEvents")])),
            (
                "resources",
                Val::list([Val::str("arn:aws:logs:*:*:log-group:/x:*")]),
            ),
        ])]);
        let doc = policy_document(&statements);
        let encoded: String = doc
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        for form in [doc.as_str(), encoded.as_str()] {
            let parsed = decode_policy(form).unwrap();
            assert!(statements_of(&parsed).same_as(&statements), "{form}");
        }
        // One statement, one action, as a plain object: still read.
        let single = decode_policy(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(statements_of(&single).as_list().len(), 1);
    }
}
