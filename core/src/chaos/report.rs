//! The run's report: a Markdown summary and an SVG timeline (serving capacity per tier over
//! time, with the fault, its end, the recovery and the budget marked). Pure text in, text out.

use super::journal::{Journal, Outcome};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Seconds for people: one decimal, or a dash when there is none.
pub fn secs(v: Option<f64>) -> String {
    v.map(|t| format!("{t:.1} s"))
        .unwrap_or_else(|| "–".to_string())
}

pub fn outcome_label(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Recovered) => "RECOVERED",
        Some(Outcome::NotRecovered) => "NOT RECOVERED",
        Some(Outcome::Refused) => "REFUSED",
        Some(Outcome::Aborted) => "ABORTED",
        Some(Outcome::Held) => "HELD",
        Some(Outcome::Degraded) => "DEGRADED",
        Some(Outcome::DataLost) => "DATA LOST",
        Some(Outcome::UsersNoticed) => "USERS NOTICED",
        None => "UNFINISHED",
    }
}

/// The Markdown report; `timeline` is the SVG's file name beside it.
pub fn markdown(j: &Journal, timeline: &str) -> String {
    let mut md = String::new();
    let d = &j.design;
    let v = j.verdict.as_ref();
    let _ = writeln!(
        md,
        "# Chaos report: {} on deployment {} ({})\n",
        d.experiment, j.deployment, j.stack
    );
    let _ = writeln!(md, "**{}**: {}\n", outcome_label(j.outcome), j.reason);
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Experiment | {} |", d.summary);
    let _ = writeln!(md, "| Target | {} |", j.target);
    let _ = writeln!(md, "| Started | {} |", j.started);
    let _ = writeln!(
        md,
        "| Budget | {:.0} s, from {} |",
        d.budget.seconds, d.budget.source
    );
    let _ = writeln!(
        md,
        "| Time to detect | {} |",
        secs(v.and_then(|v| v.detected_after))
    );
    let _ = writeln!(
        md,
        "| Time to recover (MTTR) | {} |",
        secs(v.and_then(|v| v.recovered_after))
    );
    let _ = writeln!(
        md,
        "| Relapses after recovering | {} |",
        v.map(|v| v.relapses).unwrap_or(0)
    );
    let _ = writeln!(
        md,
        "| Probes | {} every {} s, steady state held {} s to count |",
        j.probes.len(),
        j.settings.interval,
        j.settings.settle
    );
    let label = if j.events.iter().any(|e| e.kind == "rollback") {
        "After rollback"
    } else {
        "At the end"
    };
    match &j.after_rollback {
        Some(a) if a.steady => {
            let _ = writeln!(md, "| {label} | steady at {:.1} s |", a.at);
        }
        Some(a) => {
            let _ = writeln!(
                md,
                "| {label} | **not steady** at {:.1} s: {} |",
                a.at,
                a.problems.join("; ")
            );
        }
        None => {}
    }
    for m in &j.markers {
        let _ = writeln!(md, "| Data (markers) | {} |", m.describe());
    }
    if let Some(l) = &j.load {
        let _ = writeln!(md, "| Users (load) | {} |", l.describe());
    }
    if !j.pending_undo.is_empty() {
        let _ = writeln!(
            md,
            "| **Still changed** | {} |",
            j.pending_undo
                .iter()
                .map(|u| u.describe())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if let Some(seed) = &d.seed {
        let _ = writeln!(
            md,
            "| Seed | `{seed}` (`--seed {seed}` chooses the same targets) |"
        );
    }
    let _ = writeln!(md, "\n![timeline]({timeline})\n");
    if let (Some(zone), Some(last)) = (&d.zone, j.probes.last()) {
        let _ = writeln!(md, "## Outside {zone} at the end\n");
        for line in last.snapshot.outside_zone(zone) {
            let _ = writeln!(md, "- {line}");
        }
        let _ = writeln!(md);
    }
    if !d.warnings.is_empty() {
        let _ = writeln!(md, "## Warnings\n");
        for w in &d.warnings {
            let _ = writeln!(md, "- {w}");
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "## What was done\n\n| at | step | detail | ok |\n|---|---|---|---|"
    );
    for e in &j.events {
        let _ = writeln!(
            md,
            "| {:.2} s | {} | {} | {} |",
            e.at,
            e.kind,
            e.detail.replace('|', "\\|"),
            if e.ok { "yes" } else { "**no**" }
        );
    }
    let _ = writeln!(
        md,
        "\n## Capacity over time (probes where something changed)\n"
    );
    let tiers: Vec<String> = j
        .probes
        .first()
        .map(|p| p.snapshot.tiers.iter().map(|t| t.tier.clone()).collect())
        .unwrap_or_default();
    let mut header = "| at |".to_string();
    let mut rule = "|---|".to_string();
    for t in &tiers {
        let _ = write!(header, " {t} serving/desired |");
        rule.push_str("---|");
    }
    let _ = writeln!(
        md,
        "{header} databases | not steady because |\n{rule}---|---|"
    );
    let mut last = String::new();
    for p in &j.probes {
        let mut row = String::new();
        for t in &tiers {
            let cell = p
                .snapshot
                .tiers
                .iter()
                .find(|x| &x.tier == t)
                .map(|x| {
                    let zones: Vec<String> = x
                        .serving_by_zone
                        .iter()
                        .map(|(z, n)| format!("{z}:{n}"))
                        .collect();
                    if zones.is_empty() {
                        format!("{}/{}", x.serving, x.desired)
                    } else {
                        format!("{}/{} ({})", x.serving, x.desired, zones.join(" "))
                    }
                })
                .unwrap_or_default();
            let _ = write!(row, " {cell} |");
        }
        let mut dbs: Vec<String> = p
            .snapshot
            .databases
            .iter()
            .map(|d| format!("{} {} in {}", d.name, d.status, d.zone))
            .collect();
        dbs.extend(
            p.snapshot
                .documents
                .iter()
                .map(|d| format!("{} {}, writer {}", d.name, d.status, d.writer)),
        );
        let _ = write!(row, " {} | {} |", dbs.join(", "), p.problems.join("; "));
        if row != last {
            let _ = writeln!(md, "| {:.2} s |{row}", p.snapshot.at);
            last = row;
        }
    }
    let _ = writeln!(
        md,
        "\nThe full record (every probe, action and rollback) is in `journal.json` beside this file."
    );
    md
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(148, 103, 189),
    RGBColor(227, 119, 194),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

/// The SVG timeline: serving instances per tier as step lines, desired capacity dotted, and
/// vertical marks for the fault, its end, the recovery and the budget deadline.
pub fn timeline_svg(j: &Journal) -> Result<String, String> {
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut desired: BTreeMap<String, f64> = BTreeMap::new();
    for p in &j.probes {
        for t in &p.snapshot.tiers {
            let line = series.entry(t.tier.clone()).or_default();
            let y = t.serving as f64;
            if let Some(&(_, prev)) = line.last() {
                line.push((p.snapshot.at, prev));
            }
            line.push((p.snapshot.at, y));
            desired.insert(t.tier.clone(), t.desired as f64);
        }
    }
    let last_at = j.probes.last().map(|p| p.snapshot.at).unwrap_or(1.0);
    let injected = j.injected_at;
    let deadline = injected.map(|t| t + j.design.budget.seconds);
    // Show the budget deadline when it is within reach; a far one would flatten the run.
    let deadline_on_chart = deadline.filter(|d| *d <= (last_at * 3.0).max(last_at + 5.0));
    let x_max = deadline_on_chart.unwrap_or(0.0).max(last_at) * 1.05 + 0.1;
    let y_max = series
        .values()
        .flat_map(|s| s.iter().map(|p| p.1))
        .chain(desired.values().copied())
        .fold(1.0, f64::max)
        + 1.0;

    let mut svg = String::new();
    {
        let height = if j.load.is_some() { 700 } else { 440 };
        let whole = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        whole.fill(&WHITE).map_err(e)?;
        // With load, the users' view goes in a panel below, on the same time axis.
        let (root, below) = if j.load.is_some() {
            let (top, bottom) = whole.split_vertically(440);
            (top, Some(bottom))
        } else {
            (whole.clone(), None)
        };
        let title = format!(
            "{} on {}: {}",
            j.design.experiment,
            j.deployment,
            outcome_label(j.outcome)
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the run started")
            .y_desc("serving instances")
            .y_labels((y_max as usize + 1).min(12))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(e)?;
        for (n, (tier, points)) in series.iter().enumerate() {
            let color = PALETTE[n % PALETTE.len()];
            // Tiers often have identical lines: earlier ones are drawn wider so later ones
            // on top do not hide them.
            let width = (7 - 2 * n as i32).max(2) as u32;
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))
                .map_err(e)?
                .label(format!("{tier} serving"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                });
            if let Some(&want) = desired.get(tier) {
                let dots: Vec<(f64, f64)> =
                    (0..=60).map(|k| (x_max * k as f64 / 60.0, want)).collect();
                chart
                    .draw_series(dots.into_iter().map(|p| Circle::new(p, 1, color.filled())))
                    .map_err(e)?;
            }
        }
        let mut marks: Vec<(f64, RGBColor, String)> = Vec::new();
        if let Some(t) = injected {
            marks.push((t, RGBColor(214, 39, 40), "fault".into()));
        }
        if let Some(t) = j.fault_ended_at {
            marks.push((t, RGBColor(255, 127, 14), "rolled back".into()));
        }
        if let (Some(t), Some(r)) = (injected, j.verdict.as_ref().and_then(|v| v.recovered_after)) {
            marks.push((
                t + r,
                RGBColor(44, 160, 44),
                format!("recovered (+{r:.1} s)"),
            ));
        }
        if let Some(d) = deadline_on_chart {
            marks.push((d, BLACK, format!("budget {:.0} s", j.design.budget.seconds)));
        }
        for (k, (x, color, label)) in marks.into_iter().enumerate() {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, y_max)],
                    color.stroke_width(2),
                )))
                .map_err(e)?;
            let y = y_max * (0.95 - 0.07 * k as f64);
            // Labels start at their line; near the right edge they would be cut off.
            let label_x = if x > x_max * 0.85 { x - x_max * 0.1 } else { x };
            chart
                .draw_series(std::iter::once(Text::new(
                    label,
                    (label_x, y),
                    ("sans-serif", 14).into_font().color(&color),
                )))
                .map_err(e)?;
        }
        if let (Some(d), None) = (deadline, deadline_on_chart) {
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(
                        "budget {:.0} s: off the chart at {d:.0} s →",
                        j.design.budget.seconds
                    ),
                    (x_max * 0.62, y_max * 0.06),
                    ("sans-serif", 14).into_font(),
                )))
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        if let (Some(area), Some(load)) = (below, &j.load) {
            load_panel(&area, load, x_max, injected)?;
        }
        whole.present().map_err(e)?;
    }
    Ok(svg)
}

/// Success rate (left axis) and p99 latency (right axis) per second of load.
fn load_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    load: &super::load::LoadReport,
    x_max: f64,
    injected: Option<f64>,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let p99_max = load.seconds.iter().map(|s| s.p99_ms).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .right_y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..105f64)
        .map_err(e)?
        .set_secondary_coord(0f64..x_max, 0f64..p99_max);
    chart
        .configure_mesh()
        .x_desc("seconds since the run started")
        .y_desc("requests answered (%)")
        .draw()
        .map_err(e)?;
    chart
        .configure_secondary_axes()
        .y_desc("p99 latency (ms)")
        .draw()
        .map_err(e)?;
    let success: Vec<(f64, f64)> = load
        .seconds
        .iter()
        .map(|s| {
            let rate = if s.sent == 0 {
                100.0
            } else {
                100.0 * s.ok as f64 / s.sent as f64
            };
            (s.second as f64 + 0.5, rate)
        })
        .collect();
    let p99: Vec<(f64, f64)> = load
        .seconds
        .iter()
        .map(|s| (s.second as f64 + 0.5, s.p99_ms))
        .collect();
    let green = RGBColor(44, 160, 44);
    let purple = RGBColor(148, 103, 189);
    chart
        .draw_series(LineSeries::new(success, green.stroke_width(3)))
        .map_err(e)?
        .label(format!("answered % ({} req/s to {})", load.rate, load.url))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], green.stroke_width(3)));
    chart
        .draw_secondary_series(LineSeries::new(p99, purple.stroke_width(2)))
        .map_err(e)?
        .label("p99 ms")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], purple.stroke_width(2)));
    if let Some(t) = injected {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(t, 0.0), (t, 105.0)],
                RGBColor(214, 39, 40).stroke_width(2),
            )))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}
