//! The file systems of a stack (EFS file systems): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's file systems as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    for (name, fs) in &stack.file_systems {
        let at = format!("file_systems.{name}");
        if !valid_component_name(name) {
            bad(
                at.clone(),
                "names must be 1-12 lowercase letters or digits, starting with a letter".into(),
            );
        }
        if !fs.root_path.starts_with('/') || fs.root_path == "/" {
            bad(
                format!("{at}.root_path"),
                "an absolute directory below / (clients are rooted there)".into(),
            );
        }
        if !(1.0..=100.0).contains(&fs.io_limit_alarm_percent) {
            bad(
                format!("{at}.io_limit_alarm_percent"),
                "must be between 1 and 100".into(),
            );
        }
        check_policy(bad, &format!("{at}.alarm"), fs.alarm);
    }
}
