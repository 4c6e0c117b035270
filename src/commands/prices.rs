//! `ftctl prices update`, and the price book `plan` and `apply` estimate with: the file named by
//! FTCTL_PRICES, else `prices/aws.toml` in the current directory (the repository's snapshot,
//! or what `prices update` last wrote there), else the snapshot built into the binary.

use crate::commands::InputError;
use crate::cost::{price_list, PriceBook};
use anyhow::{Context, Result};
use aws_config::BehaviorVersion;
use aws_sdk_pricing::types::{Filter, FilterType};
use std::path::Path;
use std::process::ExitCode;

/// The Price List Query API answers in us-east-1 (and ap-south-1, eu-central-1) whatever
/// region is priced (Price List Query API, "Endpoints").
const PRICE_LIST_REGION: &str = "us-east-1";

/// The page size GetProducts allows (MaxResults, 1–100).
const PRODUCTS_PER_PAGE: i32 = 100;

/// The price book for estimates. A bad file is the user's input: named with its line, before
/// any AWS call.
pub fn book() -> Result<PriceBook> {
    let chosen = std::env::var_os("FTCTL_PRICES").map(std::path::PathBuf::from);
    let path = match chosen {
        Some(p) => p,
        None if Path::new(crate::cost::SHIPPED_PATH).is_file() => crate::cost::SHIPPED_PATH.into(),
        None => return PriceBook::shipped().map_err(|e| InputError(e).into()),
    };
    read(&path)
}

fn read(path: &Path) -> Result<PriceBook> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("reading the price file {}: {e}", path.display())))?;
    PriceBook::parse(&path.display().to_string(), &text).map_err(|e| InputError(e).into())
}

/// Days since 1970-01-01, UTC.
pub fn today() -> i64 {
    crate::aws::sdk::unix_now() as i64 / 86_400
}

fn date(days: i64) -> String {
    let stamp = crate::backup::utc_stamp(days * 86_400);
    format!("{}-{}-{}", &stamp[..4], &stamp[4..6], &stamp[6..8])
}

/// Rewrites `out` from the Price List: every entry that has a query is asked for, in its region
/// (and the entries of us-east-1 in each of `regions`); what the list does not answer keeps its
/// entry. Nothing is written when the endpoint does not answer at all.
pub async fn update(out: &Path, regions: &[String]) -> Result<ExitCode> {
    let mut book = if out.is_file() {
        read(out)?
    } else {
        PriceBook::shipped().map_err(InputError)?
    };
    for region in regions {
        if !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || region.is_empty()
        {
            return Err(InputError(format!("--region {region}: not a region name")).into());
        }
        let copies: Vec<_> = book
            .prices
            .iter()
            .filter(|p| p.region == PRICE_LIST_REGION)
            .filter(|p| book.get(region, &p.item).is_none())
            .map(|p| crate::cost::Price {
                region: region.clone(),
                source: format!("copied from {PRICE_LIST_REGION}: not yet read for {region}"),
                confirmed: false,
                ..p.clone()
            })
            .collect();
        book.prices.extend(copies);
    }
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(PRICE_LIST_REGION))
        .load()
        .await;
    let client = aws_sdk_pricing::Client::new(&conf);
    let today = date(today());
    let (mut updated, mut kept) = (Vec::new(), Vec::new());
    let mut answered = false;
    for price in book.prices.iter_mut() {
        let Some(q) = price_list::query(&price.item, &price.region) else {
            kept.push(format!(
                "{} in {}: not looked up (no Price List query for it yet)",
                price.item, price.region
            ));
            continue;
        };
        let filters: Vec<Filter> = q
            .filters
            .iter()
            .filter_map(|(field, value)| {
                Filter::builder()
                    .r#type(FilterType::TermMatch)
                    .field(*field)
                    .value(value)
                    .build()
                    .ok()
            })
            .collect();
        let pages: Result<Vec<_>, _> = client
            .get_products()
            .service_code(q.service_code)
            .set_filters(Some(filters))
            .format_version("aws_v1")
            .max_results(PRODUCTS_PER_PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await;
        let pages = match pages {
            Ok(pages) => pages,
            // An endpoint that is not the Price List (an emulator serves none) answers nothing
            // useful for any item: stop before writing anything.
            Err(e) if !answered => {
                let e = crate::aws::sdk::aws_error(
                    &format!(
                        "asking the Price List for {} in {}",
                        price.item, price.region
                    ),
                    e,
                );
                return Err(e.context(format!(
                    "the Price List Query API did not answer; {} is unchanged and estimates keep using it",
                    out.display()
                )));
            }
            Err(e) => {
                let e = crate::aws::sdk::aws_error("GetProducts", e);
                kept.push(format!("{} in {}: {e:#}", price.item, price.region));
                continue;
            }
        };
        answered = true;
        let list: Vec<String> = pages
            .iter()
            .flat_map(|p| p.price_list().iter().cloned())
            .collect();
        match price_list::read(&list, &q) {
            Ok(found) => {
                let was = price.usd;
                price.usd = found.usd;
                price.source = format!(
                    "AWS Price List Query API: {} SKU {}{}",
                    q.service_code,
                    found.sku,
                    found
                        .effective
                        .map(|d| format!(", effective {d}"))
                        .unwrap_or_default()
                );
                price.read_on = today.clone();
                price.confirmed = true;
                updated.push(format!(
                    "{} in {}: ${} per {} (was ${was})",
                    price.item,
                    price.region,
                    price.usd,
                    price.per.label()
                ));
            }
            Err(why) => kept.push(format!("{} in {}: {why}", price.item, price.region)),
        }
    }
    let tmp = out.with_extension("toml.tmp");
    std::fs::write(&tmp, book.to_toml()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "Wrote {}: {} prices read from the AWS Price List, {} kept as they were.",
        out.display(),
        updated.len(),
        kept.len()
    );
    for line in &updated {
        println!("  read  {line}");
    }
    for line in &kept {
        println!("  kept  {line}");
    }
    Ok(ExitCode::SUCCESS)
}
