//! What a resource kind's attributes are: each attribute a kind has, whether changing it forces
//! a replacement, whether it is only used at creation, and how a wanted value is compared with
//! the one AWS reports. The AWS layer declares one `Schema` per kind beside the code that creates
//! and updates it (so "can this change in place?" is answered next to the code that changes it);
//! the planner is handed a lookup and knows no kind's attributes itself.

use crate::resource::{Kind, Val};

/// How a wanted value is compared with the observed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Equality as AWS means it (`Val::same_as`): lists are sets, floats compare with tolerance.
    Equal,
    /// A list whose order is the setting (instance types in order of preference), unlike the
    /// other lists, which are sets.
    Ordered,
    /// An engine version AWS normalises: a requested `8.0` runs as `8.0.39`.
    VersionPrefix,
    /// A Route 53 alias target, which Route 53 answers with a trailing dot and, for load
    /// balancers, a `dualstack.` prefix.
    AliasTarget,
    /// A list of which everything wanted must be observed, and more may be (zones a replication
    /// group was placed in: auto scaling may add nodes elsewhere).
    Superset,
}

impl Compare {
    /// Whether `have` satisfies `want`. A value of another shape than the rule is about (a list
    /// for a version) falls back to `Equal`, so a rule never makes unlike values the same.
    pub fn matches(self, want: &Val, have: &Val) -> bool {
        match (self, want, have) {
            (Compare::Ordered, Val::List(w), Val::List(h)) => {
                w.len() == h.len() && w.iter().zip(h).all(|(a, b)| a.same_as(b))
            }
            (Compare::VersionPrefix, Val::Str(w), Val::Str(h)) => {
                h == w || h.starts_with(&format!("{w}."))
            }
            (Compare::AliasTarget, Val::Str(w), Val::Str(h)) => same_alias_target(w, h),
            (Compare::Superset, Val::List(w), Val::List(h)) => w.iter().all(|z| h.contains(z)),
            _ => want.same_as(have),
        }
    }
}

/// One attribute of a kind. Built with the `const` methods, so a schema can be a `static`:
/// `Attr::new("cidr_block").replaces()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub name: &'static str,
    /// A change cannot be applied in place: the resource must be replaced.
    pub replaces: bool,
    /// Used when the resource is created, but AWS may not report it back: compared when the
    /// provider could read it and left alone when it could not.
    pub create_only: bool,
    pub compare: Compare,
}

impl Attr {
    /// An attribute updated in place and compared for equality.
    pub const fn new(name: &'static str) -> Attr {
        Attr {
            name,
            replaces: false,
            create_only: false,
            compare: Compare::Equal,
        }
    }

    pub const fn replaces(self) -> Attr {
        Attr {
            replaces: true,
            ..self
        }
    }

    pub const fn create_only(self) -> Attr {
        Attr {
            create_only: true,
            ..self
        }
    }

    pub const fn compare(self, compare: Compare) -> Attr {
        Attr { compare, ..self }
    }
}

/// Every attribute one kind has.
#[derive(Debug)]
pub struct Schema {
    pub kind: Kind,
    pub attributes: &'static [Attr],
}

/// How the planner finds a kind's schema: the AWS layer's registry in the program, a few
/// declared in place in tests.
pub type Schemas<'a> = &'a dyn Fn(Kind) -> &'static Schema;

impl Schema {
    pub const fn new(kind: Kind, attributes: &'static [Attr]) -> Schema {
        Schema { kind, attributes }
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Whether a change of `name` replaces the resource. An attribute the schema does not
    /// declare is updated in place (the checked-keys test in the AWS layer keeps that from
    /// happening to a real one).
    pub fn replaces(&self, name: &str) -> bool {
        self.attr(name).is_some_and(|a| a.replaces)
    }

    pub fn create_only(&self, name: &str) -> bool {
        self.attr(name).is_some_and(|a| a.create_only)
    }

    /// Whether an observed value satisfies the wanted one: the attribute's `Compare` rule
    /// (equality when undeclared), except that for any attribute a wanted range `{ min, max }`
    /// matches an observed count inside it. With auto scaling on, the stack gives the range the
    /// scaler may move a count in (cache replicas, service tasks): any count inside it is what
    /// the stack wants.
    pub fn equivalent(&self, name: &str, want: &Val, have: &Val) -> bool {
        if let (Some((lo, hi)), Val::Int(h)) = (want.range(), have) {
            return (lo..=hi).contains(h);
        }
        self.attr(name)
            .map_or(Compare::Equal, |a| a.compare)
            .matches(want, have)
    }
}

/// Route 53 answers alias targets with a trailing dot and, for load balancers, a `dualstack.`
/// prefix: the same target either way.
pub fn same_alias_target(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_end_matches('.')
            .to_lowercase()
            .trim_start_matches("dualstack.")
            .to_string()
    };
    norm(a) == norm(b)
}

/// A schema without attributes for every kind, for tests whose plans never compare an
/// attribute (everything is created) or where every attribute is updated in place.
#[cfg(test)]
pub(crate) fn undeclared(kind: Kind) -> &'static Schema {
    use std::sync::OnceLock;
    static ALL: OnceLock<Vec<Schema>> = OnceLock::new();
    ALL.get_or_init(|| Kind::ALL.iter().map(|&k| Schema::new(k, &[])).collect())
        .iter()
        .find(|s| s.kind == kind)
        .expect("a schema for every kind")
}

#[cfg(test)]
mod tests {
    use super::*;

    static DATABASE: Schema = Schema::new(
        Kind::DbInstance,
        &[
            Attr::new("engine").replaces(),
            Attr::new("engine_version").compare(Compare::VersionPrefix),
            Attr::new("instance_class"),
        ],
    );

    static GROUP: Schema = Schema::new(
        Kind::AutoScalingGroup,
        &[
            Attr::new("mixed_instance_types").compare(Compare::Ordered),
            Attr::new("subnet_ids"),
        ],
    );

    #[test]
    fn builders_set_only_what_they_name() {
        let a = Attr::new("zones").create_only().compare(Compare::Superset);
        assert_eq!(
            (a.name, a.replaces, a.create_only, a.compare),
            ("zones", false, true, Compare::Superset)
        );
        assert!(DATABASE.replaces("engine"));
        assert!(!DATABASE.replaces("instance_class"));
        assert!(!DATABASE.replaces("not_declared"));
        assert!(!DATABASE.create_only("engine"));
        assert_eq!(DATABASE.attr("nope"), None);
    }

    #[test]
    fn engine_versions_match_by_prefix() {
        let want = Val::str("8.0");
        assert!(DATABASE.equivalent("engine_version", &want, &Val::str("8.0")));
        assert!(DATABASE.equivalent("engine_version", &want, &Val::str("8.0.39")));
        assert!(!DATABASE.equivalent("engine_version", &want, &Val::str("8.4.1")));
        // `8.0` is not a prefix of `8.01`: versions split at dots.
        assert!(!DATABASE.equivalent("engine_version", &want, &Val::str("8.01")));
        // Other attributes compare exactly.
        assert!(!DATABASE.equivalent("instance_class", &want, &Val::str("8.0.39")));
    }

    #[test]
    fn instance_types_compare_in_order_of_preference() {
        let want = Val::list([Val::str("t3.micro"), Val::str("t3a.micro")]);
        let swapped = Val::list([Val::str("t3a.micro"), Val::str("t3.micro")]);
        assert!(GROUP.equivalent("mixed_instance_types", &want, &want.clone()));
        assert!(!GROUP.equivalent("mixed_instance_types", &want, &swapped));
        // Other lists of the same kind stay sets.
        assert!(GROUP.equivalent("subnet_ids", &want, &swapped));
    }

    #[test]
    fn a_superset_holds_everything_wanted() {
        let want = Val::list([Val::str("a"), Val::str("b")]);
        let more = Val::list([Val::str("c"), Val::str("b"), Val::str("a")]);
        assert!(Compare::Superset.matches(&want, &more));
        assert!(!Compare::Superset.matches(&want, &Val::list([Val::str("a")])));
        assert!(!Compare::Equal.matches(&want, &more));
    }

    #[test]
    fn alias_targets_compare_as_route53_returns_them() {
        assert!(same_alias_target(
            "shop-public-1.us-east-1.elb.amazonaws.com",
            "dualstack.shop-public-1.us-east-1.elb.amazonaws.com."
        ));
        assert!(!same_alias_target(
            "a.elb.amazonaws.com",
            "b.elb.amazonaws.com"
        ));
        assert!(Compare::AliasTarget.matches(
            &Val::str("x.elb.amazonaws.com"),
            &Val::str("dualstack.x.elb.amazonaws.com.")
        ));
    }

    #[test]
    fn a_range_matches_any_count_inside_it_for_any_attribute() {
        let range = Val::map([("min", Val::Int(1)), ("max", Val::Int(3))]);
        for (have, inside) in [(0, false), (1, true), (3, true), (4, false)] {
            assert_eq!(
                GROUP.equivalent("undeclared", &range, &Val::Int(have)),
                inside,
                "{have}"
            );
        }
        // A range is not a count of another shape.
        assert!(!GROUP.equivalent("undeclared", &range, &Val::str("2")));
    }

    #[test]
    fn a_rule_never_makes_unlike_values_the_same() {
        let rules = [
            Compare::Ordered,
            Compare::VersionPrefix,
            Compare::AliasTarget,
            Compare::Superset,
        ];
        for rule in rules {
            assert!(!rule.matches(&Val::str("1"), &Val::Int(1)), "{rule:?}");
            assert!(rule.matches(&Val::Bool(true), &Val::Bool(true)), "{rule:?}");
        }
    }

    #[test]
    fn every_kind_has_an_undeclared_schema_for_tests() {
        for kind in Kind::ALL {
            assert_eq!(undeclared(*kind).kind, *kind);
        }
    }
}

/// Schemas the core's own tests plan with (the real ones live with the AWS providers).
#[cfg(test)]
pub(crate) mod for_tests {
    use super::{Attr, Schema};
    use crate::resource::Kind;

    pub(crate) static VPC: Schema = Schema::new(Kind::Vpc, &[Attr::new("cidr_block").replaces()]);
    pub(crate) static SUBNET: Schema = Schema::new(
        Kind::Subnet,
        &[
            Attr::new("vpc_id").replaces(),
            Attr::new("cidr_block").replaces(),
        ],
    );
}
