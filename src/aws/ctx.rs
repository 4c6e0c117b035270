//! What a provider call needs: clients, the deployment, delete options.

use crate::aws::clients::Clients;
use crate::aws::reads::SharedReads;
use crate::deployment::{Deployment, TAG_DEPLOYMENT, TAG_HOME_REGION, TAG_LOGICAL_ID, TAG_STACK};
use crate::resource::{Observed, ResourceSpec, Val};
use std::collections::HashMap;
use std::sync::Arc;

/// Choices that change how deletions behave.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Delete databases without a final snapshot.
    pub skip_final_snapshot: bool,
    /// Turn deletion protection off before deleting (destroy only, explicitly asked for).
    pub disable_deletion_protection: bool,
}

/// What a provider call needs.
pub struct Ctx<'a> {
    /// Clients for the region the call is for: the deployment's, or another one for the few
    /// resources that must live elsewhere.
    pub clients: &'a Clients,
    pub deployment: &'a Deployment,
    pub delete: &'a DeleteOptions,
    /// The deployment's own region.
    pub home_region: &'a str,
    /// Account-wide reads made once for all the kinds observed together in this region.
    pub reads: Arc<SharedReads>,
}

impl Ctx<'_> {
    pub fn env(&self) -> &str {
        &self.deployment.env
    }

    /// The ownership tags (plus `Name`) every resource of `spec` carries.
    pub fn tags(&self, spec: &ResourceSpec) -> Vec<(String, String)> {
        let mut tags = vec![
            ("Name".into(), spec.name.clone()),
            (TAG_DEPLOYMENT.into(), self.deployment.env.clone()),
            (TAG_STACK.into(), self.deployment.stack.clone()),
            (TAG_LOGICAL_ID.into(), spec.id.clone()),
        ];
        if self.clients.region != self.home_region {
            tags.push((TAG_HOME_REGION.into(), self.home_region.to_string()));
        }
        tags
    }

    /// The logical id and stack of a resource, if its tags say this deployment owns it.
    pub fn owner<'t>(
        &self,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> Option<(String, String)> {
        let tags: HashMap<&str, &str> = tags.into_iter().collect();
        if tags.get(TAG_DEPLOYMENT) != Some(&self.deployment.env.as_str()) {
            return None;
        }
        // Made here for a deployment of the same name in another region.
        let home = tags
            .get(TAG_HOME_REGION)
            .copied()
            .unwrap_or(&self.clients.region);
        if home != self.home_region {
            return None;
        }
        let id = tags.get(TAG_LOGICAL_ID)?.to_string();
        let stack = tags.get(TAG_STACK).copied().unwrap_or_default().to_string();
        Some((id, stack))
    }

    /// The IAM path of the deployment's roles and instance profiles: IAM is global, so the
    /// region is part of it, and listing by it finds only this region's deployment.
    pub fn iam_path(&self) -> String {
        format!("/ftctl/{}/{}/", self.deployment.env, self.clients.region)
    }

    /// The prefix of every name this deployment gives.
    pub fn name_prefix(&self) -> String {
        format!("{}-", self.deployment.env)
    }

    /// Whether `current` (`what`, as the operator knows it) has deletion protection to turn off
    /// before it can go; refused unless the destroy was asked to turn it off.
    pub fn protection_to_lift(&self, current: &Observed, what: &str) -> anyhow::Result<bool> {
        if current.props.get("deletion_protection") != Some(&Val::Bool(true)) {
            return Ok(false);
        }
        if !self.delete.disable_deletion_protection {
            anyhow::bail!(
                "{what} has deletion protection on; set its deletion_protection = false in the \
                 stack and apply, or destroy with --disable-deletion-protection"
            );
        }
        Ok(true)
    }
}
