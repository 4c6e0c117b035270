//! The price book: the prices estimates are made with (`prices/aws.toml`, built into the
//! binary as the shipped snapshot), read with errors that name the file, line and field, and
//! written back by `ftctl prices update`.

use super::HOURS_PER_MONTH;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The snapshot the repository ships, built into the binary.
pub const SHIPPED: &str = include_str!("../../../prices/aws.toml");

/// Where the shipped snapshot lives in the repository, for messages.
pub const SHIPPED_PATH: &str = "prices/aws.toml";

/// The unit a price is quoted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    Hour,
    Month,
    Gb,
    GbMonth,
    LcuHour,
    VcpuHour,
    GbHour,
    MillionRequests,
}

const UNITS: &[(Per, &str, &str)] = &[
    (Per::Hour, "hour", "hour"),
    (Per::Month, "month", "month"),
    (Per::Gb, "gb", "GB"),
    (Per::GbMonth, "gb-month", "GB-month"),
    (Per::LcuHour, "lcu-hour", "LCU-hour"),
    (Per::VcpuHour, "vcpu-hour", "vCPU-hour"),
    (Per::GbHour, "gb-hour", "GB-hour"),
    (Per::MillionRequests, "million-requests", "million requests"),
];

impl Per {
    pub fn parse(text: &str) -> Option<Per> {
        UNITS
            .iter()
            .find(|(_, k, _)| *k == text)
            .map(|(p, _, _)| *p)
    }

    /// The spelling in the price file.
    pub fn key(self) -> &'static str {
        UNITS
            .iter()
            .find(|(p, _, _)| *p == self)
            .map_or("", |u| u.1)
    }

    /// The spelling for people.
    pub fn label(self) -> &'static str {
        UNITS
            .iter()
            .find(|(p, _, _)| *p == self)
            .map_or("", |u| u.2)
    }

    /// Hours of it in a month, for a price per unit of running time; `None` for use-priced units.
    pub(super) fn monthly_factor(self) -> Option<f64> {
        match self {
            Per::Hour | Per::LcuHour | Per::VcpuHour | Per::GbHour => Some(HOURS_PER_MONTH),
            Per::Month | Per::GbMonth => Some(1.0),
            Per::Gb | Per::MillionRequests => None,
        }
    }
}

/// One price of the book.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
    /// ftctl's key for what is priced, e.g. `ec2:instance:t3.micro` (docs/cost.md lists them).
    pub item: String,
    /// The region it applies in, or `global`.
    pub region: String,
    pub usd: f64,
    pub per: Per,
    pub source: String,
    /// `YYYY-MM-DD`.
    pub read_on: String,
    /// Read from AWS's own price list (`ftctl prices update`); false: check before relying.
    pub confirmed: bool,
}

/// The prices an estimate uses, and where they came from.
#[derive(Debug, Clone)]
pub struct PriceBook {
    /// The file they were read from, or the shipped snapshot.
    pub origin: String,
    pub prices: Vec<Price>,
}

/// The services whose prices are the same everywhere (the book lists them as `global`).
pub(super) fn is_global(item: &str) -> bool {
    item.starts_with("route53:") || item.starts_with("cloudfront:")
}

impl PriceBook {
    /// The snapshot built into this binary.
    pub fn shipped() -> Result<PriceBook, String> {
        PriceBook::parse(&format!("{SHIPPED_PATH} (shipped)"), SHIPPED)
    }

    /// Reads a price file; an error names the file, line and field.
    pub fn parse(origin: &str, text: &str) -> Result<PriceBook, String> {
        let at = |offset: Option<usize>| {
            let offset = offset.unwrap_or(0).min(text.len());
            let line = text.as_bytes()[..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            format!("{origin}:{line}")
        };
        let doc = toml_edit::Document::parse(text).map_err(|e| {
            format!(
                "{}: invalid TOML: {}",
                at(e.span().map(|s| s.start)),
                e.message().trim()
            )
        })?;
        let mut prices = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, item) in doc.as_table().iter() {
            if key != "price" {
                let span = doc.as_table().key(key).and_then(|k| k.span());
                return Err(format!(
                    "{}: unknown field `{key}` (a price file holds [[price]] entries)",
                    at(span.map(|s| s.start))
                ));
            }
            let Some(tables) = item.as_array_of_tables() else {
                return Err(format!(
                    "{}: `price` must be [[price]] entries",
                    at(item.span().map(|s| s.start))
                ));
            };
            for t in tables.iter() {
                let here = t.span().map(|s| s.start);
                let field = |name: &str| -> Result<&toml_edit::Value, String> {
                    t.get(name)
                        .and_then(|i| i.as_value())
                        .ok_or_else(|| format!("{}: [[price]] is missing field `{name}`", at(here)))
                };
                let located = |name: &str, what: &str| {
                    let span = t.get(name).and_then(|i| i.span()).map(|s| s.start);
                    format!("{}: field `{name}`: {what}", at(span.or(here)))
                };
                let string = |name: &str| -> Result<String, String> {
                    field(name)?
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| located(name, "expected a string"))
                };
                for (k, _) in t.iter() {
                    const FIELDS: &[&str] = &[
                        "item",
                        "region",
                        "usd",
                        "per",
                        "source",
                        "read_on",
                        "confirmed",
                    ];
                    if !FIELDS.contains(&k) {
                        return Err(located(
                            k,
                            &format!("unknown field (expected one of {})", FIELDS.join(", ")),
                        ));
                    }
                }
                let usd_value = field("usd")?;
                let usd = usd_value
                    .as_float()
                    .or_else(|| usd_value.as_integer().map(|i| i as f64))
                    .ok_or_else(|| located("usd", "expected a number"))?;
                if !usd.is_finite() || usd < 0.0 {
                    return Err(located("usd", "a price is a number of dollars, 0 or more"));
                }
                let per_text = string("per")?;
                let per = Per::parse(&per_text).ok_or_else(|| {
                    let known: Vec<&str> = UNITS.iter().map(|u| u.1).collect();
                    located(
                        "per",
                        &format!("`{per_text}` is not a unit (one of {})", known.join(", ")),
                    )
                })?;
                let read_on = string("read_on")?;
                if days_from_date(&read_on).is_none() {
                    return Err(located("read_on", "expected a date, YYYY-MM-DD"));
                }
                let confirmed = field("confirmed")?
                    .as_bool()
                    .ok_or_else(|| located("confirmed", "expected true or false"))?;
                let price = Price {
                    item: string("item")?,
                    region: string("region")?,
                    usd,
                    per,
                    source: string("source")?,
                    read_on,
                    confirmed,
                };
                if is_global(&price.item) != (price.region == "global") {
                    return Err(located(
                        "region",
                        &format!(
                            "{} is priced once for all regions: region = \"global\" (and only those)",
                            price.item
                        ),
                    ));
                }
                if !seen.insert((price.item.clone(), price.region.clone())) {
                    return Err(located(
                        "item",
                        &format!("{} in {} is priced twice", price.item, price.region),
                    ));
                }
                prices.push(price);
            }
        }
        Ok(PriceBook {
            origin: origin.to_string(),
            prices,
        })
    }

    /// The price of `item` in `region` (global services: wherever it is asked for).
    pub fn get(&self, region: &str, item: &str) -> Option<&Price> {
        let region = if is_global(item) { "global" } else { region };
        self.prices
            .iter()
            .find(|p| p.item == item && p.region == region)
    }

    /// The price file's text: the same entries, in the same order, with the header a reader
    /// needs (`ftctl prices update` writes it).
    pub fn to_toml(&self) -> String {
        let mut out = String::from(FILE_HEADER);
        for p in &self.prices {
            let _ = write!(
                out,
                "\n[[price]]\nitem = {}\nregion = {}\nusd = {}\nper = \"{}\"\nsource = {}\nread_on = \"{}\"\nconfirmed = {}\n",
                toml_string(&p.item),
                toml_string(&p.region),
                toml_number(p.usd),
                p.per.key(),
                toml_string(&p.source),
                p.read_on,
                p.confirmed
            );
        }
        out
    }

    /// The day the oldest price used was read.
    pub(super) fn oldest_of(&self, used: &BTreeSet<(String, String)>) -> Option<&str> {
        self.prices
            .iter()
            .filter(|p| used.contains(&(p.item.clone(), p.region.clone())))
            .map(|p| p.read_on.as_str())
            .min()
    }
}

const FILE_HEADER: &str = "\
# List prices ftctl's plan estimates with (USD, on-demand, no free tier, no discounts).
# `ftctl prices update` rewrites this file from the AWS Price List Query API
# (pricing:GetProducts) and marks each price it read there `confirmed = true`, naming the
# product it came from; a price AWS's list did not answer keeps its old entry.
#
#   item       what is priced (ftctl's own key, see docs/cost.md)
#   region     the region it is priced in (\"global\" for Route 53 and CloudFront)
#   usd, per   the price and its unit: hour, month, gb, gb-month, lcu-hour, vcpu-hour, gb-hour,
#              million-requests
#   source     where the figure comes from
#   read_on    the day it was read
#   confirmed  false: not read from AWS's own price list (check it before relying on it)
";

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A price as TOML: always a float (an integer would read back as one, which `usd` accepts,
/// but a float keeps the file uniform).
fn toml_number(usd: f64) -> String {
    let text = format!("{usd}");
    if text.contains('.') || text.contains('e') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (days-from-civil, Howard Hinnant's algorithm).
pub fn days_from_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let in_month = match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if d > in_month {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}
