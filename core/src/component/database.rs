//! The databases of a stack (RDS databases): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's databases as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    for (name, db) in &stack.databases {
        let at = format!("databases.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        let exports = db.log_exports();
        for (i, e) in exports.iter().enumerate() {
            let types = db.engine.log_types();
            if exports[..i].contains(e) {
                bad(
                    format!("{at}.log_exports.{i}"),
                    format!("`{e}` is listed twice"),
                );
            } else if e == "audit" && db.engine == Engine::Mysql {
                bad(
                    format!("{at}.log_exports.{i}"),
                    "MySQL's audit log needs an option group with the MariaDB audit plugin, which \
                     ftctl does not make: RDS would export an empty log"
                        .into(),
                );
            } else if !types.contains(&e.as_str()) {
                bad(
                    format!("{at}.log_exports.{i}"),
                    format!(
                        "`{e}` is not a log RDS exports for {}; known: {}",
                        db.engine.as_aws(),
                        types.join(", ")
                    ),
                );
            }
        }
        if !db.instance_class.starts_with("db.") {
            bad(
                format!("{at}.instance_class"),
                format!(
                    "`{}` is not a DB instance class such as db.t3.medium",
                    db.instance_class
                ),
            );
        }
        if !(20..=65536).contains(&db.allocated_storage_gb) {
            bad(
                format!("{at}.allocated_storage_gb"),
                "must be between 20 and 65536".into(),
            );
        }
        if db.backup_retention_days < 7 || db.backup_retention_days > 35 {
            bad(
                format!("{at}.backup_retention_days"),
                "must be between 7 and 35 days (point-in-time recovery needs a week at least)"
                    .into(),
            );
        }
        let user = &db.master_username;
        if user.is_empty()
            || user.len() > 16
            || !user.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || ["admin", "root", "rdsadmin", "postgres"].contains(&user.as_str())
        {
            bad(
                format!("{at}.master_username"),
                "1-16 letters, digits or _, starting with a letter, and not a reserved name".into(),
            );
        }
        for (i, tier) in db.allow_from.iter().enumerate() {
            if !stack.tiers.contains_key(tier) {
                bad(
                    format!("{at}.allow_from.{i}"),
                    format!("no tier named `{tier}`"),
                );
            }
        }
        if !(1.0..=100.0).contains(&db.cpu_alarm_percent) {
            bad(
                format!("{at}.cpu_alarm_percent"),
                "must be between 1 and 100".into(),
            );
        }
        if !(1.0..=90.0).contains(&db.free_storage_alarm_percent) {
            bad(
                format!("{at}.free_storage_alarm_percent"),
                "must be between 1 and 90".into(),
            );
        }
        check_policy(bad, &format!("{at}.alarm"), db.alarm);
    }
}
