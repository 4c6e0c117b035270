//! The AWS Price List Query API as `ftctl prices update` uses it: which product answers each
//! price-book item (GetProducts' service code and TERM_MATCH filters) and how its on-demand
//! price is read from the answer. Pure: the command sends the queries.
//!
//! AWS (Price List Query API, GetProducts): each `PriceList` entry is a JSON document of one
//! product — `product.sku`, `product.attributes`, and `terms.OnDemand.<offer>.priceDimensions.
//! <rate>` with `unit` and `pricePerUnit.USD` (a decimal string), the offer carrying its
//! `effectiveDate`. The EC2 filter set is the one AWS's and Terraform's examples use to pin one
//! product: Linux, shared tenancy, no pre-installed software, no license, capacity "Used".

use serde_json::Value;

/// One GetProducts query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub service_code: &'static str,
    /// TERM_MATCH filters, field and value.
    pub filters: Vec<(&'static str, String)>,
    /// The price dimension's unit in the Price List (`Hrs`).
    pub unit: &'static str,
    /// When the filters also match other products billed in the same unit, the ending of the
    /// wanted product's `usagetype` (a cache node's hours are `...NodeUsage:<type>`; the same
    /// node type also has products for extended support and other features).
    pub usage_type_ends: Option<String>,
}

/// The Price List's names of the engines ftctl's stacks name.
fn rds_engine(engine: &str) -> Option<&'static str> {
    Some(match engine {
        "mysql" => "MySQL",
        "postgres" => "PostgreSQL",
        "mariadb" => "MariaDB",
        _ => return None,
    })
}

fn cache_engine(engine: &str) -> Option<&'static str> {
    Some(match engine {
        "redis" => "Redis",
        "valkey" => "Valkey",
        "memcached" => "Memcached",
        _ => return None,
    })
}

/// The query that answers `item` in `region`, for the items whose product is pinned by
/// documented attributes; `None` for the others (they keep their entry).
pub fn query(item: &str, region: &str) -> Option<Query> {
    let parts: Vec<&str> = item.split(':').collect();
    let at = |mut filters: Vec<(&'static str, String)>| {
        filters.push(("regionCode", region.to_string()));
        filters
    };
    match parts.as_slice() {
        ["ec2", "instance", t] => Some(Query {
            service_code: "AmazonEC2",
            filters: at(vec![
                ("instanceType", t.to_string()),
                ("operatingSystem", "Linux".into()),
                ("tenancy", "Shared".into()),
                ("preInstalledSw", "NA".into()),
                ("licenseModel", "No License required".into()),
                ("capacitystatus", "Used".into()),
            ]),
            unit: "Hrs",
            usage_type_ends: None,
        }),
        ["rds", "instance", class, engine, azs] => Some(Query {
            service_code: "AmazonRDS",
            filters: at(vec![
                ("instanceType", class.to_string()),
                ("databaseEngine", rds_engine(engine)?.into()),
                (
                    "deploymentOption",
                    match *azs {
                        "multi-az" => "Multi-AZ",
                        _ => "Single-AZ",
                    }
                    .into(),
                ),
                ("locationType", "AWS Region".into()),
            ]),
            unit: "Hrs",
            usage_type_ends: None,
        }),
        ["elasticache", "node", node, engine] => Some(Query {
            service_code: "AmazonElastiCache",
            filters: at(vec![
                ("instanceType", node.to_string()),
                ("cacheEngine", cache_engine(engine)?.into()),
                ("locationType", "AWS Region".into()),
            ]),
            unit: "Hrs",
            usage_type_ends: Some(format!("NodeUsage:{node}")),
        }),
        // `softwareType = EMR` is what other tools filter the EMR fee by; AWS's documentation
        // does not list the attribute, so a wrong guess answers no product and the entry is kept.
        ["emr", "fee", t] => Some(Query {
            service_code: "ElasticMapReduce",
            filters: at(vec![
                ("instanceType", t.to_string()),
                ("softwareType", "EMR".into()),
            ]),
            unit: "Hrs",
            usage_type_ends: None,
        }),
        _ => None,
    }
}

/// A price read from the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub usd: f64,
    pub sku: String,
    /// `YYYY-MM-DD` of the offer's effectiveDate, when given.
    pub effective: Option<String>,
}

/// The one on-demand price of `unit` in the products GetProducts answered (`price_list`: its
/// `PriceList` strings). Zero-priced dimensions are skipped (reservation placeholders); more
/// than one distinct price means the filters did not pin one product, which is an error, not
/// a choice.
pub fn read(price_list: &[String], query: &Query) -> Result<Found, String> {
    let unit = query.unit;
    let mut found: Vec<Found> = Vec::new();
    for entry in price_list {
        let doc: Value = serde_json::from_str(entry)
            .map_err(|e| format!("a PriceList entry is not JSON: {e}"))?;
        if let Some(ending) = &query.usage_type_ends {
            let usage_type = doc["product"]["attributes"]["usagetype"]
                .as_str()
                .unwrap_or_default();
            if !usage_type.ends_with(ending.as_str()) {
                continue;
            }
        }
        let sku = doc["product"]["sku"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(offers) = doc["terms"]["OnDemand"].as_object() else {
            continue;
        };
        for offer in offers.values() {
            let effective = offer["effectiveDate"]
                .as_str()
                .and_then(|d| d.get(..10))
                .map(str::to_string);
            let Some(dimensions) = offer["priceDimensions"].as_object() else {
                continue;
            };
            for d in dimensions.values() {
                if d["unit"].as_str() != Some(unit) {
                    continue;
                }
                let Some(usd) = d["pricePerUnit"]["USD"]
                    .as_str()
                    .and_then(|p| p.parse::<f64>().ok())
                else {
                    continue;
                };
                if usd > 0.0 {
                    found.push(Found {
                        usd,
                        sku: sku.clone(),
                        effective: effective.clone(),
                    });
                }
            }
        }
    }
    let mut prices: Vec<f64> = found.iter().map(|f| f.usd).collect();
    prices.sort_by(f64::total_cmp);
    prices.dedup();
    match prices.len() {
        0 => Err(format!("no on-demand price per {unit} in the answer")),
        1 => Ok(found.swap_remove(0)),
        n => Err(format!(
            "{n} different prices per {unit} ({}): the filters match more than one product",
            prices
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(sku: &str, unit: &str, usd: &str) -> String {
        product_of(sku, "BoxUsage:t3.micro", unit, usd)
    }

    fn product_of(sku: &str, usage_type: &str, unit: &str, usd: &str) -> String {
        serde_json::json!({
            "product": { "sku": sku, "attributes": { "instanceType": "t3.micro", "usagetype": usage_type } },
            "terms": { "OnDemand": { format!("{sku}.JRTCKXETXF"): {
                "effectiveDate": "2026-11-01T00:00:00Z",
                "priceDimensions": { format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                    "unit": unit, "pricePerUnit": { "USD": usd }
                }}
            }}}
        })
        .to_string()
    }

    fn hours() -> Query {
        query("ec2:instance:t3.micro", "us-east-1").unwrap()
    }

    /// A cache node type has products besides its node hours, billed per hour too.
    #[test]
    fn only_the_wanted_usage_type_counts() {
        let q = query("elasticache:node:cache.r7g.large:redis", "us-east-1").unwrap();
        let found = read(
            &[
                product_of(
                    "EXT",
                    "USE1-ExtendedSupport:cache.r7g.large",
                    "Hrs",
                    "0.0316",
                ),
                product_of("NODE", "NodeUsage:cache.r7g.large", "Hrs", "0.219"),
            ],
            &q,
        )
        .unwrap();
        assert_eq!((found.sku.as_str(), found.usd), ("NODE", 0.219));
    }

    #[test]
    fn one_product_gives_its_price() {
        let found = read(&[product("SKU1", "Hrs", "0.0104000000")], &hours()).unwrap();
        assert_eq!(found.usd, 0.0104);
        assert_eq!(found.sku, "SKU1");
        assert_eq!(found.effective.as_deref(), Some("2026-11-01"));
    }

    #[test]
    fn two_prices_are_refused_and_zeros_ignored() {
        let err = read(
            &[
                product("SKU1", "Hrs", "0.0104"),
                product("SKU2", "Hrs", "0.0208"),
            ],
            &hours(),
        )
        .unwrap_err();
        assert!(err.contains("more than one product"), "{err}");
        let found = read(
            &[
                product("SKU0", "Hrs", "0.0000000000"),
                product("SKU1", "Hrs", "0.5"),
            ],
            &hours(),
        )
        .unwrap();
        assert_eq!(found.sku, "SKU1");
        assert!(read(&[product("SKU1", "GB-Mo", "0.08")], &hours()).is_err());
    }

    #[test]
    fn queries_pin_the_documented_attributes() {
        let q = query("rds:instance:db.t3.medium:mysql:multi-az", "us-east-1").unwrap();
        assert_eq!(q.service_code, "AmazonRDS");
        assert!(q.filters.contains(&("deploymentOption", "Multi-AZ".into())));
        assert!(q.filters.contains(&("regionCode", "us-east-1".into())));
        assert!(query("cloudwatch:alarm", "us-east-1").is_none());
        assert!(query("rds:instance:db.t3.medium:oracle-ee:multi-az", "us-east-1").is_none());
    }
}
