//! What `ftctl verify --schedule` makes for a deployment, found and removed together
//! (`--unschedule`, and `destroy` with the deployment): its FIS experiment templates (tagged
//! `ftctl:game-day`), its schedule group with every schedule in it, and the two roles.

use crate::aws::clients::Clients;
use crate::aws::{fis, iam::service_role, scheduler};
use crate::chaos::fis::schedule;
use anyhow::Result;

/// Removes them all; gives a line per thing removed (none when nothing was scheduled).
pub async fn unschedule(clients: &Clients, env: &str) -> Result<Vec<String>> {
    let mut said = Vec::new();
    // The schedules first: nothing may start an experiment whose template is going.
    let group = schedule::schedule_group(env);
    let names = scheduler::schedules(clients, &group).await?;
    if scheduler::delete_group(clients, &group).await? {
        said.push(format!(
            "schedule group {group} and its {} schedule{}",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        ));
    }
    for t in fis::templates(clients, env).await? {
        fis::delete_template(clients, &t.id).await?;
        said.push(format!(
            "FIS experiment template {} ({})",
            t.id, t.failure_mode
        ));
    }
    let (fis_role, scheduler_role) = schedule::role_names(env, &clients.region);
    for role in [fis_role, scheduler_role] {
        if service_role::delete(clients, &role).await? {
            said.push(format!("role {role}"));
        }
    }
    Ok(said)
}
