//! How long what the deployment stores in S3 stays, and where it goes as it ages: the
//! `[retention]` section (to S3 Standard-IA after N days, to S3 Glacier Flexible Retrieval after
//! M, gone after K) and the rules it becomes on each bucket. The log buckets (audit trail,
//! balancer access logs, EMR logs) carry them as their `lifecycle` attribute; the evidence
//! bucket, which ftctl writes itself, gets its own variant of them (`evidence_rules`).
//! Checked here against the constraints S3 puts on lifecycle transitions, which S3 enforces
//! only when the configuration is sent.

use super::{Component, Cx};
use crate::resource::Val;
use crate::stack::Stack;
use serde::{Deserialize, Serialize};

/// `[retention]`: days after an object's creation; 0 turns a step off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// To S3 Standard-IA (cheaper to store, billed per retrieval). At least 30.
    #[serde(default = "default_ia")]
    pub infrequent_access_after_days: u32,
    /// To S3 Glacier Flexible Retrieval (read only after a restore of minutes to hours).
    #[serde(default = "default_glacier")]
    pub glacier_after_days: u32,
    /// Deleted. The default keeps a year: PCI DSS 10.5.1 asks twelve months of audit history,
    /// three of them at hand, which the 90 days before Glacier give.
    #[serde(default = "default_expire")]
    pub expire_after_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            infrequent_access_after_days: default_ia(),
            glacier_after_days: default_glacier(),
            expire_after_days: default_expire(),
        }
    }
}

fn default_ia() -> u32 {
    30
}
fn default_glacier() -> u32 {
    90
}
fn default_expire() -> u32 {
    365
}

impl Retention {
    /// S3 refuses a transition to Standard-IA before day 30, and a Glacier transition less than 30
    /// days after a Standard-IA one in the same rule (S3 User Guide, "Transitioning objects using
    /// Amazon S3 Lifecycle", constraints).
    pub const IA_MIN_DAYS: u32 = 30;
    /// Glacier Flexible Retrieval bills 90 days at least (S3 User Guide, "Understanding and managing
    /// Amazon S3 storage classes"): an expiry sooner than that after the move pays for nothing.
    pub const GLACIER_MIN_DAYS: u32 = 90;
    /// A bound well inside the 32-bit day counts S3's rules take.
    pub const MAX_DAYS: u32 = 36_500;
    /// Incomplete multipart uploads are invisible in listings but billed: gone after a week.
    pub const ABORT_UPLOADS_DAYS: u32 = 7;
    /// How long a replaced version of an evidence record stays (the bucket is versioned).
    pub const NONCURRENT_DAYS: u32 = 30;

    /// The `lifecycle` attribute of a log bucket: every object, both transitions and the expiry.
    pub fn rules(&self) -> Val {
        Val::map([
            (
                "infrequent_access_days",
                Val::Int(self.infrequent_access_after_days.into()),
            ),
            ("glacier_days", Val::Int(self.glacier_after_days.into())),
            ("expire_days", Val::Int(self.expire_after_days.into())),
        ])
    }

    /// The evidence bucket's rules: its records go to Standard-IA (read at once, as `status`
    /// and `plan` need) and expire, but never to Glacier, where reading one would fail until
    /// restored. `applied.json`, at the bucket's root, is outside the rule.
    pub fn evidence_rules(&self) -> Retention {
        Retention {
            glacier_after_days: 0,
            ..*self
        }
    }
}

/// Checks `[retention]`.
pub(crate) struct RetentionComponent;

impl Component for RetentionComponent {
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
        let r = &stack.retention;
        let (ia, glacier, expire) = (
            r.infrequent_access_after_days,
            r.glacier_after_days,
            r.expire_after_days,
        );
        for (field, days) in [
            ("infrequent_access_after_days", ia),
            ("glacier_after_days", glacier),
            ("expire_after_days", expire),
        ] {
            if days > Retention::MAX_DAYS {
                bad(
                    format!("retention.{field}"),
                    format!("at most {} days (a century)", Retention::MAX_DAYS),
                );
            }
        }
        if ia != 0 && ia < Retention::IA_MIN_DAYS {
            bad(
                "retention.infrequent_access_after_days".into(),
                format!(
                    "S3 moves objects to Standard-IA after {} days at the earliest (0 turns it off)",
                    Retention::IA_MIN_DAYS
                ),
            );
        }
        if glacier != 0 && ia != 0 && glacier < ia + Retention::IA_MIN_DAYS {
            bad(
                "retention.glacier_after_days".into(),
                format!(
                    "must be at least {} days after infrequent_access_after_days ({}): \
                     S3 refuses to move objects out of Standard-IA sooner",
                    Retention::IA_MIN_DAYS,
                    ia + Retention::IA_MIN_DAYS
                ),
            );
        }
        if expire != 0 {
            let last = ia.max(glacier);
            if glacier != 0 && expire < glacier + Retention::GLACIER_MIN_DAYS {
                bad(
                    "retention.expire_after_days".into(),
                    format!(
                        "must be at least {} days after glacier_after_days ({}): \
                         Glacier bills {} days however soon an object is deleted",
                        Retention::GLACIER_MIN_DAYS,
                        glacier + Retention::GLACIER_MIN_DAYS,
                        Retention::GLACIER_MIN_DAYS
                    ),
                );
            } else if expire <= last {
                bad(
                    "retention.expire_after_days".into(),
                    format!("must come after the last transition (day {last})"),
                );
            }
        }
    }

    fn expand(&self, _: &Cx<'_>, _: &mut Vec<crate::resource::ResourceSpec>) {}
}
