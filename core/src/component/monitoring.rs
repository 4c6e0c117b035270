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

/// CloudWatch's limits on a dashboard body (CloudWatch API reference, Dashboard Body Structure
/// and Syntax): 0 to 500 widgets, and 1 to 100 alarm ARNs in an alarm status widget.
pub(crate) const WIDGETS_PER_DASHBOARD: usize = 500;
pub(crate) const ALARMS_PER_WIDGET: usize = 100;

/// The logical id and name suffix of dashboard page `n` (1-based): the first is the overview,
/// later pages exist only for a deployment whose widgets do not fit in one.
pub fn dashboard_page(n: usize) -> (String, String) {
    if n <= 1 {
        ("monitoring.dashboard".into(), "overview".into())
    } else {
        (format!("monitoring.dashboard.{n}"), format!("overview-{n}"))
    }
}

/// The dashboards of the deployment whose resources (all but the dashboards) are `specs`: one
/// for every stage ftctl ships; a deployment with more widgets than one dashboard holds gets
/// pages (`<deployment>-overview-2`, …), each row whole on one page, the alarms last.
pub(crate) fn dashboards(cx: &Cx<'_>, specs: &[ResourceSpec]) -> Vec<ResourceSpec> {
    let rows: Vec<Row> = COMPONENTS.iter().flat_map(|c| c.dashboard(cx)).collect();
    // Each block is placed whole, below the previous one: (widgets at y offsets, its height).
    let mut blocks: Vec<(Vec<(i64, Val)>, i64)> = Vec::new();
    for Row {
        title,
        charts: row,
        region: metrics_region,
    } in rows
    {
        let mut widgets = vec![(
            0,
            Val::map([
                ("type", Val::str("text")),
                ("x", Val::Int(0)),
                ("width", Val::Int(24)),
                ("height", Val::Int(1)),
                (
                    "properties",
                    Val::map([("markdown", Val::str(format!("## {title}")))]),
                ),
            ]),
        )];
        let width = (24 / row.len().max(1)) as i64;
        for (i, (name, metrics, stat)) in row.into_iter().enumerate() {
            widgets.push((
                1,
                Val::map([
                    ("type", Val::str("metric")),
                    ("x", Val::Int(i as i64 * width)),
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
                ]),
            ));
        }
        blocks.push((widgets, 7));
    }
    // The alarm widget lists alarm ARNs of the dashboard's own region; the dashboard body
    // reference documents no region for them, so an alarm living elsewhere (the Route 53
    // health check's, in us-east-1) is shown by its metric row only.
    let alarms: Vec<Val> = specs
        .iter()
        .filter(|s| s.kind == Kind::MetricAlarm && !s.props.contains_key("region"))
        .map(|s| Val::reference(&s.id, "arn"))
        .collect();
    let alarm_widgets = alarms.len().div_ceil(ALARMS_PER_WIDGET);
    for (n, chunk) in alarms.chunks(ALARMS_PER_WIDGET).enumerate() {
        let title = if alarm_widgets == 1 {
            "Alarms".to_string()
        } else {
            format!("Alarms ({} of {alarm_widgets})", n + 1)
        };
        let widget = Val::map([
            ("type", Val::str("alarm")),
            ("x", Val::Int(0)),
            ("width", Val::Int(24)),
            ("height", Val::Int(8)),
            (
                "properties",
                Val::map([
                    ("title", Val::Str(title)),
                    ("alarms", Val::List(chunk.to_vec())),
                ]),
            ),
        ]);
        blocks.push((vec![(0, widget)], 8));
    }
    // Pages of at most WIDGETS_PER_DASHBOARD widgets (no block is larger than a page).
    let mut pages: Vec<Vec<Val>> = vec![Vec::new()];
    let mut y = 0;
    for (widgets, height) in blocks {
        if pages.last().unwrap().len() + widgets.len() > WIDGETS_PER_DASHBOARD {
            pages.push(Vec::new());
            y = 0;
        }
        let page = pages.last_mut().unwrap();
        for (dy, mut widget) in widgets {
            if let Val::Map(m) = &mut widget {
                m.insert("y".into(), Val::Int(y + dy));
            }
            page.push(widget);
        }
        y += height;
    }
    pages
        .into_iter()
        .enumerate()
        .map(|(i, widgets)| {
            let (id, suffix) = dashboard_page(i + 1);
            ResourceSpec::new(id, Kind::Dashboard, physical_name(cx.env, &suffix, 255))
                .with("body", Val::map([("widgets", Val::List(widgets))]))
        })
        .collect()
}
