//! IAM roles made outside the stack, for AWS services acting on a deployment's behalf when
//! no ftctl runs: the game days' FIS experiment role and EventBridge Scheduler role. Each has
//! one trust policy and one inline policy, lives under its own path (not the stack roles'
//! path, by which those are found), and is replaced in place by a later `--schedule`.

use crate::aws::clients::Clients;
use crate::aws::sdk::{aws_error, error_code};
use anyhow::Result;
use aws_sdk_iam::types::Tag;
use serde_json::Value;

const POLICY: &str = "ftctl";

/// Makes (or brings up to date) role `name` under `path`; gives its ARN.
pub async fn put(
    clients: &Clients,
    (name, path): (&str, &str),
    trust: &Value,
    policy: &Value,
    tags: &[(&str, &str)],
) -> Result<String> {
    let iam = &clients.iam;
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect::<Result<Vec<_>, _>>()?;
    let arn = match iam
        .create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(trust.to_string())
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(out) => out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
        Err(e) if error_code(&e).as_deref() == Some("EntityAlreadyExists") => {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(trust.to_string())
                .send()
                .await
                .map_err(|e| aws_error(&format!("updating the trust of role {name}"), e))?;
            let got = iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| aws_error(&format!("reading role {name}"), e))?;
            got.role().map(|r| r.arn().to_string()).unwrap_or_default()
        }
        Err(e) => return Err(aws_error(&format!("creating role {name}"), e)),
    };
    iam.put_role_policy()
        .role_name(name)
        .policy_name(POLICY)
        .policy_document(policy.to_string())
        .send()
        .await
        .map_err(|e| aws_error(&format!("writing the policy of role {name}"), e))?;
    Ok(arn)
}

/// Deletes role `name` and its inline policy; whether there was one.
pub async fn delete(clients: &Clients, name: &str) -> Result<bool> {
    let iam = &clients.iam;
    match iam
        .delete_role_policy()
        .role_name(name)
        .policy_name(POLICY)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => {}
        Err(e) => return Err(aws_error(&format!("removing the policy of role {name}"), e)),
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if error_code(&e).as_deref() == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(aws_error(&format!("deleting role {name}"), e)),
    }
}
