//! The deployment's CloudWatch dashboard: a row per component that has metrics worth watching
//! (balancers, tiers, databases, caches, tables, services, file systems, EMR clusters, DNS), each
//! row contributed by its component, then the state of every alarm. It grows with the stage
//! because it is derived from what the stage has.
//!
//! Every metric widget names its region: PutDashboard refuses a metric widget without it
//! ("Should have required property 'region'"; CloudWatch API reference, Dashboard Body Structure
//! and Syntax), although the emulators store any body.

use super::{Cx, COMPONENTS};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};

/// A dashboard chart: its title, its metric lines, the statistic.
pub(crate) type Chart = (&'static str, Vec<Val>, &'static str);

/// One row of the dashboard: a heading and the charts under it, of metrics in `region`.
pub(crate) struct Row {
    pub title: String,
    pub charts: Vec<Chart>,
    pub region: String,
}

impl Row {
    /// A row of metrics of the deployment's own region.
    pub fn new(cx: &Cx<'_>, title: impl Into<String>, charts: Vec<Chart>) -> Row {
        Row {
            title: title.into(),
            charts,
            region: cx.region.to_string(),
        }
    }
}

/// One metric line of a dashboard widget: namespace, metric, then dimension name/value pairs.
pub(crate) fn metric(namespace: &str, name: &str, dims: &[(&str, Val)]) -> Val {
    let mut items = vec![Val::str(namespace), Val::str(name)];
    for (k, v) in dims {
        items.push(Val::str(*k));
        items.push(v.clone());
    }
    Val::List(items)
}

/// The dashboard of the deployment whose resources (all but the dashboard) are `specs`.
pub(crate) fn dashboard(cx: &Cx<'_>, specs: &[ResourceSpec]) -> ResourceSpec {
    let rows: Vec<Row> = COMPONENTS.iter().flat_map(|c| c.dashboard(cx)).collect();
    let mut widgets = Vec::new();
    let mut y = 0;
    for Row {
        title,
        charts: row,
        region: metrics_region,
    } in rows
    {
        widgets.push(Val::map([
            ("type", Val::str("text")),
            ("x", Val::Int(0)),
            ("y", Val::Int(y)),
            ("width", Val::Int(24)),
            ("height", Val::Int(1)),
            (
                "properties",
                Val::map([("markdown", Val::str(format!("## {title}")))]),
            ),
        ]));
        y += 1;
        let width = (24 / row.len().max(1)) as i64;
        for (i, (name, metrics, stat)) in row.into_iter().enumerate() {
            widgets.push(Val::map([
                ("type", Val::str("metric")),
                ("x", Val::Int(i as i64 * width)),
                ("y", Val::Int(y)),
                ("width", Val::Int(width)),
                ("height", Val::Int(6)),
                (
                    "properties",
                    Val::map([
                        ("title", Val::str(format!("{title}: {name}"))),
                        ("region", Val::str(&metrics_region)),
                        ("metrics", Val::List(metrics)),
                        ("stat", Val::str(stat)),
                        ("period", Val::Int(60)),
                        ("view", Val::str("timeSeries")),
                    ]),
                ),
            ]));
        }
        y += 6;
    }
    // The alarm widget lists alarm ARNs of the dashboard's own region; the dashboard body
    // reference documents no region for them, so an alarm living elsewhere (the Route 53
    // health check's, in us-east-1) is shown by its metric row only.
    let alarms: Vec<Val> = specs
        .iter()
        .filter(|s| s.kind == Kind::MetricAlarm && !s.props.contains_key("region"))
        .map(|s| Val::reference(&s.id, "arn"))
        .collect();
    widgets.push(Val::map([
        ("type", Val::str("alarm")),
        ("x", Val::Int(0)),
        ("y", Val::Int(y)),
        ("width", Val::Int(24)),
        ("height", Val::Int(8)),
        (
            "properties",
            Val::map([("title", Val::str("Alarms")), ("alarms", Val::List(alarms))]),
        ),
    ]));
    ResourceSpec::new(
        "monitoring.dashboard",
        Kind::Dashboard,
        physical_name(cx.env, "overview", 255),
    )
    .with("body", Val::map([("widgets", Val::List(widgets))]))
}
