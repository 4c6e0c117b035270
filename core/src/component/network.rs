//! The network of a stack (the VPC: its CIDR block, zones, subnets, NAT and endpoints): what is checked beyond what the types say.

use crate::stack::*;
use std::collections::BTreeSet;

/// Reports each problem of the stack's network as (dotted field, message).
pub(crate) fn validate(stack: &Stack, bad: &mut dyn FnMut(String, String)) {
    let net = &stack.network;
    match net.cidr.parse::<ipnet::Ipv4Net>() {
        Err(_) => bad(
            "network.cidr".into(),
            format!(
                "`{}` is not an IPv4 CIDR block such as 10.0.0.0/16",
                net.cidr
            ),
        ),
        Ok(cidr) => {
            if cidr.network() != cidr.addr() {
                bad(
                    "network.cidr".into(),
                    format!(
                        "`{}` has host bits set; did you mean {}?",
                        net.cidr,
                        cidr.trunc()
                    ),
                );
            } else if !(16..=28).contains(&cidr.prefix_len()) {
                bad(
                    "network.cidr".into(),
                    "a VPC block must be between /16 and /28".into(),
                );
            } else if net.subnet_prefix < cidr.prefix_len() || net.subnet_prefix > 28 {
                bad(
                    "network.subnet_prefix".into(),
                    format!(
                        "must be between the VPC prefix (/{}) and /28",
                        cidr.prefix_len()
                    ),
                );
            } else {
                let available = 1u64 << (net.subnet_prefix - cidr.prefix_len());
                let needed = 2 * net.az_count as u64;
                if needed > available {
                    bad(
                        "network.subnet_prefix".into(),
                        format!(
                            "{needed} subnets (a public and a private one per AZ) of /{} do not fit in {}",
                            net.subnet_prefix, net.cidr
                        ),
                    );
                }
            }
        }
    }
    if net.az_count < 2 {
        bad(
            "network.az_count".into(),
            format!(
                "is {}: a highly available stack needs at least 2 availability zones",
                net.az_count
            ),
        );
    } else if net.az_count > 6 {
        bad("network.az_count".into(), "at most 6 zones".into());
    }
    if let Some(zones) = &net.availability_zones {
        for (i, zone) in zones.iter().enumerate() {
            // Zone names go into AWS names and tags; anything else would only fail at apply.
            let ok = (1..=32).contains(&zone.len())
                && zone
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                bad(
                    format!("network.availability_zones.{i}"),
                    format!(
                        "`{}` is not an availability zone name such as us-east-1a",
                        zone.escape_debug()
                    ),
                );
            }
        }
        let distinct: BTreeSet<&String> = zones.iter().collect();
        if distinct.len() != zones.len() {
            bad(
                "network.availability_zones".into(),
                "lists a zone twice".into(),
            );
        }
        if (zones.len() as u32) < net.az_count {
            bad(
                "network.availability_zones".into(),
                format!(
                    "names {} zones but az_count is {}",
                    zones.len(),
                    net.az_count
                ),
            );
        }
    }
}
