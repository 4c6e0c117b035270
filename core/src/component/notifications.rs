//! The notifications of a stack (where alarms are sent): what is checked beyond what the types say.

use crate::stack::*;

/// Reports each problem of the stack's notifications as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    for (i, email) in stack.notifications.emails.iter().enumerate() {
        let ok = email
            .split_once('@')
            .is_some_and(|(u, d)| !u.is_empty() && d.contains('.'));
        if !ok {
            bad(
                format!("notifications.emails.{i}"),
                format!("`{email}` is not an e-mail address"),
            );
        }
    }
    for (i, url) in stack.notifications.https_endpoints.iter().enumerate() {
        if !url.starts_with("https://") {
            bad(
                format!("notifications.https_endpoints.{i}"),
                "must be an https:// URL".into(),
            );
        }
    }
    for (i, arn) in stack.notifications.sqs_queue_arns.iter().enumerate() {
        if !arn.starts_with("arn:") || !arn.contains(":sqs:") {
            bad(
                format!("notifications.sqs_queue_arns.{i}"),
                "must be an SQS queue ARN".into(),
            );
        }
    }
}
