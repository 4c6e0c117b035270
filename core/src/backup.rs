//! Backups of a deployment's data stores, the pure part: what a backup is, how new ones are
//! named, and the table `ftctl backup` prints. `aws::backup` takes and lists them.

use serde::Serialize;

/// Which kind of data store a backup is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Store {
    Database,
    Cache,
    Table,
    Documents,
    /// A recovery point the deployment's AWS Backup plan made in its vault.
    RecoveryPoint,
}

impl Store {
    pub fn label(self) -> &'static str {
        match self {
            Store::Database => "database (RDS snapshot)",
            Store::Cache => "cache (ElastiCache snapshot)",
            Store::Table => "table (DynamoDB backup)",
            Store::Documents => "document database (DocumentDB cluster snapshot)",
            Store::RecoveryPoint => "vault (AWS Backup recovery point)",
        }
    }
}

/// How a backup came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// Taken by `ftctl backup` or by hand.
    Manual,
    /// Taken by AWS on its schedule.
    Automated,
    /// Taken when ftctl deleted the resource.
    Final,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    pub store: Store,
    /// The resource's AWS name (database identifier, replication group, table name).
    pub resource: String,
    /// The backup's identifier for a restore (snapshot name, or a table backup's ARN).
    pub id: String,
    /// Its name (the same as `id` for snapshots).
    pub name: String,
    pub origin: Origin,
    /// As AWS says it: available, creating, AVAILABLE, ...
    pub status: String,
    /// Seconds since the Unix epoch, when AWS reports it.
    pub created: Option<i64>,
    pub size_bytes: Option<i64>,
    /// Where it is kept as it ages: `standard` for the services' own snapshots and backups
    /// (they have no colder tier), AWS Backup's `warm` or `cold` for recovery points.
    pub storage_class: String,
}

impl Backup {
    /// Done and usable for a restore.
    pub fn is_complete(&self) -> bool {
        self.status.eq_ignore_ascii_case("available")
    }

    /// A state the backup will not leave for `available` (RDS and ElastiCache `failed`,
    /// DynamoDB `DELETED`).
    pub fn has_failed(&self) -> bool {
        ["failed", "error", "deleted", "deleting"]
            .iter()
            .any(|s| self.status.eq_ignore_ascii_case(s))
    }
}

/// The name of a new on-demand backup of `resource`: `<resource>-manual-<UTC stamp>`, valid
/// for RDS (letters, digits, hyphens), ElastiCache and DynamoDB alike.
pub fn manual_name(resource: &str, unix_seconds: i64) -> String {
    format!("{resource}-manual-{}", utc_stamp(unix_seconds))
}

/// The name of the backup taken when ftctl deletes `resource`: `<resource>-final-<UTC stamp>`.
pub fn final_name(resource: &str, unix_seconds: i64) -> String {
    format!("{resource}-final-{}", utc_stamp(unix_seconds))
}

/// Whether a data store named `resource` is one deployment `env` made. ftctl names them
/// `<env>-<component>`, and component names have no hyphen, so `dev-2-main` is not `dev`'s.
/// This also recognises backups of resources that no longer exist.
pub fn owned_name(env: &str, resource: &str) -> bool {
    resource
        .strip_prefix(env)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|component| !component.is_empty() && !component.contains('-'))
}

/// Classifies a backup by its name as ftctl and AWS give them.
pub fn origin_of(name: &str, aws_says_automated: bool) -> Origin {
    if aws_says_automated {
        Origin::Automated
    } else if name.contains("-final-") {
        Origin::Final
    } else {
        Origin::Manual
    }
}

/// `YYYYMMDDhhmmss` in UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn utc_stamp(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Newest first within each store and resource.
pub fn sort(backups: &mut [Backup]) {
    backups.sort_by(|a, b| {
        (a.store, &a.resource)
            .cmp(&(b.store, &b.resource))
            .then(b.created.cmp(&a.created))
            .then(a.id.cmp(&b.id))
    });
}

fn size(bytes: Option<i64>) -> String {
    match bytes {
        None => "-".into(),
        Some(b) if b < 1024 => format!("{b} B"),
        Some(b) if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        Some(b) if b < 1024 * 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1048576.0),
        Some(b) => format!("{:.1} GiB", b as f64 / 1073741824.0),
    }
}

/// The human listing.
pub fn render(backups: &[Backup]) -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "store",
        "resource",
        "backup",
        "origin",
        "status",
        "created (UTC)",
        "size",
        "storage",
    ]);
    for b in backups {
        let created = b
            .created
            .map(|t| {
                let s = utc_stamp(t);
                format!(
                    "{}-{}-{} {}:{}",
                    &s[..4],
                    &s[4..6],
                    &s[6..8],
                    &s[8..10],
                    &s[10..12]
                )
            })
            .unwrap_or_else(|| "-".into());
        table.add_row([
            b.store
                .label()
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string(),
            b.resource.clone(),
            b.name.clone(),
            format!("{:?}", b.origin).to_lowercase(),
            b.status.to_lowercase(),
            created,
            size(b.size_bytes),
            b.storage_class.clone(),
        ]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_time() {
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(951_782_400), "20000229000000"); // a leap day
        assert_eq!(utc_stamp(1_795_371_293), "20261122181453");
        assert_eq!(
            manual_name("dev-main", 1_795_371_293),
            "dev-main-manual-20261122181453"
        );
        assert_eq!(
            origin_of(&final_name("dev-main", 1_795_371_293), false),
            Origin::Final
        );
    }

    #[test]
    fn failed_states_of_every_store_end_a_wait() {
        let with = |status: &str| Backup {
            store: Store::Table,
            resource: "dev-orders".into(),
            id: "b".into(),
            name: "b".into(),
            origin: Origin::Manual,
            status: status.into(),
            created: None,
            size_bytes: None,
            storage_class: "standard".into(),
        };
        for status in ["failed", "DELETED", "deleting"] {
            assert!(with(status).has_failed(), "{status}");
        }
        for status in ["creating", "CREATING", "available", "AVAILABLE"] {
            assert!(!with(status).has_failed(), "{status}");
        }
    }

    #[test]
    fn names_of_other_deployments_are_not_ours() {
        assert!(owned_name("dev", "dev-main"));
        assert!(!owned_name("dev", "dev-2-main"));
        assert!(!owned_name("dev", "devx-main"));
        assert!(!owned_name("dev", "dev-"));
        assert!(owned_name("dev-2", "dev-2-main"));
    }

    #[test]
    fn origins_come_from_aws_then_the_name() {
        assert_eq!(
            origin_of("rds:dev-main-2026-11-22-05-00", true),
            Origin::Automated
        );
        assert_eq!(origin_of("dev-main-final-1795371293", false), Origin::Final);
        assert_eq!(
            origin_of("dev-main-manual-20261122181453", false),
            Origin::Manual
        );
    }

    #[test]
    fn listing_is_grouped_and_newest_first() {
        let b = |store, resource: &str, id: &str, created| Backup {
            store,
            resource: resource.into(),
            id: id.into(),
            name: id.into(),
            origin: Origin::Manual,
            status: "available".into(),
            created: Some(created),
            size_bytes: Some(2048),
            storage_class: "cold".into(),
        };
        let mut list = vec![
            b(Store::Table, "dev-orders", "t1", 10),
            b(Store::Database, "dev-main", "old", 10),
            b(Store::Database, "dev-main", "new", 20),
        ];
        sort(&mut list);
        let ids: Vec<&str> = list.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, vec!["new", "old", "t1"]);
        let text = render(&list);
        assert!(text.contains("2.0 KiB"), "{text}");
        assert!(text.contains("cold"), "{text}");
        assert!(text.contains("1970-01-01 00:00"), "{text}");
    }
}
