//! One changing run per deployment at a time: `apply` and `destroy` hold a lock for their whole
//! run. Two backends: a local file (one machine) and a DynamoDB table (a team), both taken
//! atomically and released only by their holder or by `force-unlock`.

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Who holds a lock, as written into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str) -> Holder {
        let pid = std::process::id();
        let now = std::time::SystemTime::now();
        let nanos = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let secs = (nanos / 1_000_000_000) as i64;
        let host = hostname();
        let id = crate::render::short_sha(&format!("{host}/{pid}/{nanos}"), 8);
        Holder {
            id,
            user: user(),
            host,
            pid,
            command: command.to_string(),
            since: aws_smithy_types::DateTime::from_secs(secs)
                .fmt(aws_smithy_types::date_time::Format::DateTime)
                .unwrap_or_default(),
        }
    }

    /// The holder's process is known to be gone: it ran on this host and its pid is dead.
    pub fn killed(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

/// The login name, else the account of this process's uid (containers often set no USER).
fn user() -> String {
    if let Some(name) = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
    {
        return name;
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        });
    let Some(uid) = uid else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or(format!("uid {uid}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether `pid` runs here. Only Linux can tell (through /proc); elsewhere every holder counts
/// as alive, so a lock is never called stale without evidence. A zombie has exited.
fn process_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself hold spaces.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(_) => false,
    }
}

#[derive(Clone)]
pub enum Backend {
    /// Lock files in this directory.
    File(PathBuf),
    Table {
        client: aws_sdk_dynamodb::Client,
        table: String,
    },
}

impl Backend {
    /// `$XDG_STATE_HOME/ftctl/locks`, else `~/.local/state/ftctl/locks`.
    pub fn local() -> Result<Backend> {
        let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| anyhow!("neither XDG_STATE_HOME nor HOME is set: nowhere to keep the deployment lock"))?,
            )
            .join(".local/state"),
        };
        Ok(Backend::File(state.join("ftctl/locks")))
    }

    /// How the user names this backend again (for force-unlock hints).
    fn flag(&self) -> String {
        match self {
            Backend::File(_) => String::new(),
            Backend::Table { table, .. } => format!(" --lock-table {table}"),
        }
    }

    fn describe(&self, key: &Key) -> String {
        match self {
            Backend::File(dir) => format!("lock file {}", key.file(dir).display()),
            Backend::Table { table, .. } => format!("DynamoDB lock table {table}"),
        }
    }
}

/// What a lock is taken on: a deployment in a region.
#[derive(Debug, Clone)]
pub struct Key {
    pub env: String,
    pub region: String,
}

impl Key {
    /// The table's `LockID`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.region, self.env)
    }

    fn file(&self, dir: &Path) -> PathBuf {
        // The env is validated (letters, digits, hyphens); a region is kept to the same.
        let region: String = self
            .region
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!("{region}--{}.json", self.env))
    }

    fn region_flag(&self) -> String {
        format!(" --region {}", self.region)
    }
}

/// Refusal to run: someone holds the lock.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Locked(pub String);

fn locked_message(key: &Key, backend: &Backend, holder: &Holder) -> String {
    let head = format!(
        "deployment {} in {} is locked by another run:\n  {} on {}, pid {}, since {}\n  running: {}\n  ({}, lock id {})",
        key.env,
        key.region,
        holder.user,
        holder.host,
        holder.pid,
        holder.since,
        holder.command,
        backend.describe(key),
        holder.id
    );
    let unlock = format!(
        "ftctl force-unlock --env {}{}{}",
        key.env,
        key.region_flag(),
        backend.flag()
    );
    if holder.killed() {
        format!(
            "{head}\nThat run is gone (no process {} on this host): the lock was left by a killed run.\n\
             It may have stopped half-way; nothing is lost (re-running finishes the job). Release the lock with:\n  {unlock}",
            holder.pid
        )
    } else {
        format!(
            "{head}\nWait for that run to finish. If it is certainly gone, release the lock with:\n  {unlock}"
        )
    }
}

/// A lock this process holds. Release it with `release`; `release_held` does it on the way
/// out of an interrupted run.
pub struct Lock {
    backend: Backend,
    key: Key,
    holder: Holder,
}

/// The lock this process holds, for release from a signal handler.
static HELD: Mutex<Option<(Backend, Key, String)>> = Mutex::new(None);

impl Lock {
    pub async fn acquire(backend: Backend, key: Key, command: &str) -> Result<Lock> {
        let holder = Holder::me(command);
        match &backend {
            Backend::File(dir) => acquire_file(dir, &key, &backend, &holder)?,
            Backend::Table { client, table } => {
                acquire_table(client, table, &key, &backend, &holder).await?
            }
        }
        if let Ok(mut held) = HELD.lock() {
            *held = Some((backend.clone(), key.clone(), holder.id.clone()));
        }
        Ok(Lock {
            backend,
            key,
            holder,
        })
    }

    /// Who holds it: this run.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    pub async fn release(self) -> Result<()> {
        if let Ok(mut held) = HELD.lock() {
            *held = None;
        }
        if !release(&self.backend, &self.key, Some(&self.holder.id)).await? {
            bail!(
                "it was no longer this run's (lock id {}): released with force-unlock meanwhile?",
                self.holder.id
            );
        }
        Ok(())
    }
}

/// Releases the lock this process holds, if any (an interrupted run on its way out).
pub async fn release_held() {
    let held = HELD.lock().ok().and_then(|mut h| h.take());
    if let Some((backend, key, id)) = held {
        if let Err(e) = release(&backend, &key, Some(&id)).await {
            eprintln!("warning: the deployment lock was not released: {e:#}");
        }
    }
}

fn acquire_file(dir: &Path, key: &Key, backend: &Backend, holder: &Holder) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = key.file(dir);
    // Written in full under a private name, then linked into place: the link is atomic and
    // fails if the lock exists, so nobody ever reads a half-written lock.
    let tmp = dir.join(format!(".{}.{}.tmp", holder.id, holder.pid));
    std::fs::write(&tmp, serde_json::to_string_pretty(holder)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the lock {}", path.display()))?;
            let theirs: Holder = serde_json::from_str(&text).with_context(|| {
                format!(
                    "the lock {} is not readable; if no ftctl run holds it, run ftctl force-unlock --env {}{}",
                    path.display(),
                    key.env,
                    key.region_flag()
                )
            })?;
            Err(Locked(locked_message(key, backend, &theirs)).into())
        }
        Err(e) => Err(e).with_context(|| format!("creating the lock {}", path.display())),
    }
}

const TABLE_WAIT: Duration = Duration::from_secs(120);

async fn acquire_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &Key,
    backend: &Backend,
    holder: &Holder,
) -> Result<()> {
    // Retried after creating a missing table, or when a lock vanished between the
    // refused put and the read of its holder.
    for _ in 0..3 {
        let put = client
            .put_item()
            .table_name(table)
            .item("LockID", AttributeValue::S(key.id()))
            .item("Token", AttributeValue::S(holder.id.clone()))
            .item("Info", AttributeValue::S(serde_json::to_string(holder)?))
            .condition_expression("attribute_not_exists(LockID)")
            .send()
            .await;
        let err = match put {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        match crate::aws::error_code(&err).as_deref() {
            Some("ConditionalCheckFailedException") => {
                if let Some(theirs) = read_table(client, table, key).await? {
                    return Err(Locked(locked_message(key, backend, &theirs)).into());
                }
            }
            Some("ResourceNotFoundException") => create_table(client, table).await?,
            _ => {
                return Err(crate::aws::aws_error(
                    &format!("taking the deployment lock in DynamoDB table {table}"),
                    err,
                ))
            }
        }
    }
    bail!(
        "could not take the deployment lock in DynamoDB table {table}: it kept changing; try again"
    )
}

async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    eprintln!("Creating the DynamoDB lock table {table} (first use)...");
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await;
    if let Err(e) = created {
        // Another run created it at the same moment: fine, wait for it like for ours.
        if crate::aws::error_code(&e).as_deref() != Some("ResourceInUseException") {
            return Err(crate::aws::aws_error(
                &format!("creating the DynamoDB lock table {table}"),
                e,
            ));
        }
    }
    use aws_sdk_dynamodb::client::Waiters;
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(TABLE_WAIT)
        .await
        .map_err(|e| {
            anyhow!("waiting for the DynamoDB lock table {table} to become active: {e}")
        })?;
    Ok(())
}

async fn read_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &Key,
) -> Result<Option<Holder>> {
    let out = match client
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(key.id()))
        .consistent_read(true)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if crate::aws::error_code(&e).as_deref() == Some("ResourceNotFoundException") => {
            return Ok(None)
        }
        Err(e) => {
            return Err(crate::aws::aws_error(
                &format!("reading the deployment lock in DynamoDB table {table}"),
                e,
            ))
        }
    };
    let Some(item) = out.item() else {
        return Ok(None);
    };
    let info = item
        .get("Info")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| anyhow!("the lock {} in table {table} has no Info", key.id()))?;
    let holder = serde_json::from_str(info)
        .with_context(|| format!("reading the lock {} in table {table}", key.id()))?;
    Ok(Some(holder))
}

/// Who holds the lock now, if anyone.
pub async fn current(backend: &Backend, key: &Key) -> Result<Option<Holder>> {
    match backend {
        Backend::File(dir) => {
            let path = key.file(dir);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    Ok(Some(serde_json::from_str(&text).with_context(|| {
                        format!("reading the lock {}", path.display())
                    })?))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
        Backend::Table { client, table } => read_table(client, table, key).await,
    }
}

/// Removes the lock if it is the one with id `only` (any lock when `None`). Returns whether a
/// lock was removed.
pub async fn release(backend: &Backend, key: &Key, only: Option<&str>) -> Result<bool> {
    match backend {
        Backend::File(dir) => {
            let path = key.file(dir);
            let Some(holder) = current(backend, key).await.ok().flatten() else {
                // Unreadable: only force-unlock (no id) may remove it.
                if only.is_none() && path.exists() {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                    return Ok(true);
                }
                return Ok(false);
            };
            if only.is_some_and(|id| id != holder.id) {
                return Ok(false);
            }
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            let _ = std::fs::remove_file(abort_file(dir, key, &holder.id));
            Ok(true)
        }
        Backend::Table { client, table } => {
            let mut delete = client
                .delete_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(key.id()));
            delete = match only {
                // Only ours: a lock taken since by someone else stays.
                Some(id) => delete
                    .condition_expression("#t = :t")
                    .expression_attribute_names("#t", "Token")
                    .expression_attribute_values(":t", AttributeValue::S(id.to_string())),
                None => delete.condition_expression("attribute_exists(LockID)"),
            };
            match delete.send().await {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(
                        crate::aws::error_code(&e).as_deref(),
                        Some("ConditionalCheckFailedException" | "ResourceNotFoundException")
                    ) =>
                {
                    Ok(false)
                }
                Err(e) => Err(crate::aws::aws_error(
                    &format!("releasing the deployment lock in DynamoDB table {table}"),
                    e,
                )),
            }
        }
    }
}

/// Asks the run holding the deployment's lock to stop (`ftctl chaos abort`): written beside
/// the lock (a file next to the lock file, or an attribute of the lock's item, set only while
/// that same holder has it), and read by the holder between its probes. Returns the holder.
pub async fn request_abort(backend: &Backend, key: &Key, by: &str) -> Result<Option<Holder>> {
    let Some(holder) = current(backend, key).await? else {
        return Ok(None);
    };
    match backend {
        Backend::File(dir) => {
            let path = abort_file(dir, key, &holder.id);
            std::fs::write(&path, by).with_context(|| format!("writing {}", path.display()))?;
        }
        Backend::Table { client, table } => {
            let update = client
                .update_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(key.id()))
                .update_expression("SET #a = :a")
                .condition_expression("#t = :t")
                .expression_attribute_names("#a", "AbortRequestedBy")
                .expression_attribute_names("#t", "Token")
                .expression_attribute_values(":a", AttributeValue::S(by.to_string()))
                .expression_attribute_values(":t", AttributeValue::S(holder.id.clone()))
                .send()
                .await;
            match update {
                Ok(_) => {}
                // Released (or taken by another run) since it was read: nothing to stop.
                Err(e)
                    if crate::aws::error_code(&e).as_deref()
                        == Some("ConditionalCheckFailedException") =>
                {
                    return Ok(None)
                }
                Err(e) => {
                    return Err(crate::aws::aws_error(
                        &format!("asking the run in DynamoDB table {table} to stop"),
                        e,
                    ))
                }
            }
        }
    }
    Ok(Some(holder))
}

/// Who asked the run holding lock `id` to stop, if anyone has.
pub async fn abort_requested(backend: &Backend, key: &Key, id: &str) -> Result<Option<String>> {
    match backend {
        Backend::File(dir) => match std::fs::read_to_string(abort_file(dir, key, id)) {
            Ok(by) => Ok(Some(by)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("reading the abort request"),
        },
        Backend::Table { client, table } => {
            let out = client
                .get_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(key.id()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| crate::aws::aws_error("reading the abort request", e))?;
            Ok(out.item().and_then(|item| {
                let ours = item.get("Token").and_then(|v| v.as_s().ok()) == Some(&id.to_string());
                let by = item.get("AbortRequestedBy").and_then(|v| v.as_s().ok());
                by.filter(|_| ours).cloned()
            }))
        }
    }
}

/// The abort request for the holder `id`: named by the holder, so a request left over from an
/// earlier run never stops the next one.
fn abort_file(dir: &Path, key: &Key, id: &str) -> PathBuf {
    key.file(dir).with_extension(format!("abort-{id}"))
}

/// `ftctl force-unlock`: removes whatever lock the deployment has (or only the one with
/// `lock_id`), and says whose it was.
pub async fn force_unlock(backend: &Backend, key: &Key, lock_id: Option<&str>) -> Result<String> {
    let Some(holder) = current(backend, key).await? else {
        return Ok(format!(
            "Deployment {} in {} is not locked ({}).",
            key.env,
            key.region,
            backend.describe(key)
        ));
    };
    if let Some(want) = lock_id {
        if want != holder.id {
            bail!(
                "the lock on deployment {} is {}, not {want}: not released (it may have been taken again since)",
                key.env,
                holder.id
            );
        }
    }
    // With the id read, so a lock taken between the read and the delete is left alone.
    if !release(backend, key, Some(&holder.id)).await? {
        bail!(
            "the lock on deployment {} changed while releasing it: run force-unlock again",
            key.env
        );
    }
    Ok(format!(
        "Released the lock on deployment {} in {} held by {} on {}, pid {}, running `{}`, since {}{}.",
        key.env,
        key.region,
        holder.user,
        holder.host,
        holder.pid,
        holder.command,
        holder.since,
        if holder.killed() {
            " (a killed run)"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key {
            env: "shop".into(),
            region: "us-east-1".into(),
        }
    }

    #[tokio::test]
    async fn a_file_lock_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::File(dir.path().join("locks"));
        let lock = Lock::acquire(backend.clone(), key(), "ftctl apply stage1")
            .await
            .unwrap();
        let err = Lock::acquire(backend.clone(), key(), "ftctl destroy")
            .await
            .err()
            .unwrap();
        let msg = err.downcast_ref::<Locked>().unwrap().0.clone();
        assert!(msg.contains("running: ftctl apply stage1\n"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(!msg.contains("killed"), "{msg}");
        // Another deployment, or the same name in another region, is not blocked.
        let other = Key {
            region: "eu-west-1".into(),
            ..key()
        };
        Lock::acquire(backend.clone(), other, "x")
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
        // A release with another id leaves the lock alone.
        assert!(!release(&backend, &key(), Some("someone-else"))
            .await
            .unwrap());
        lock.release().await.unwrap();
        assert_eq!(current(&backend, &key()).await.unwrap(), None);
        Lock::acquire(backend.clone(), key(), "again")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_dead_holder_is_reported_as_a_killed_run() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::File(dir.path().to_path_buf());
        // A pid that cannot run: beyond Linux's pid_max.
        let mut dead = Holder::me("ftctl apply stage1");
        dead.pid = 4_999_999;
        std::fs::write(
            key().file(dir.path()),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let err = Lock::acquire(backend.clone(), key(), "ftctl apply")
            .await
            .err()
            .unwrap();
        let msg = err.to_string();
        if cfg!(target_os = "linux") {
            assert!(msg.contains("left by a killed run"), "{msg}");
        }
        assert!(
            msg.contains("ftctl force-unlock --env shop --region us-east-1"),
            "{msg}"
        );
        assert!(force_unlock(&backend, &key(), Some("nope")).await.is_err());
        let said = force_unlock(&backend, &key(), Some(&dead.id))
            .await
            .unwrap();
        assert!(said.contains("Released the lock"), "{said}");
        assert!(force_unlock(&backend, &key(), None)
            .await
            .unwrap()
            .contains("not locked"));
    }

    #[test]
    fn this_process_is_alive() {
        assert!(process_alive(std::process::id()));
        assert!(Holder::me("x").host == hostname());
        assert!(!Holder::me("x").killed());
    }
}
