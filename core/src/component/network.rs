//! The network of a stack (the VPC: its CIDR block, zones, subnets, NAT and endpoints): their
//! settings in the stack file, what is checked of them beyond what the types say, the resources
//! they expand into and, where they have metrics worth watching, their rows on the dashboard.

use super::{tcp_rule_from_cidr, Component, Cx};
use crate::deployment::physical_name;
use crate::resource::{Kind, ResourceSpec, Val};
use crate::stack::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// Private subnets have no route to the internet.
    None,
    /// One NAT gateway in the first AZ (cheaper, not AZ-independent).
    Single,
    /// A NAT gateway per AZ, so losing an AZ does not cut the others off.
    PerAz,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub cidr: String,
    pub az_count: u32,
    /// Explicit zones; when absent the first `az_count` available zones of the region are used.
    #[serde(default)]
    pub availability_zones: Option<Vec<String>>,
    #[serde(default = "default_nat")]
    pub nat: NatMode,
    /// Prefix length of every subnet carved from `cidr`.
    #[serde(default = "default_subnet_prefix")]
    pub subnet_prefix: u8,
    /// Interface VPC endpoints in the private subnets, by service (`monitoring`, `xray`,
    /// `logs`, `ecr.api`, `ecr.dkr`, `elasticmapreduce`, `ssm`, ...): how instances, tasks and
    /// clusters reach those AWS services without NAT. S3's gateway endpoint (free) is always made.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

fn default_nat() -> NatMode {
    NatMode::None
}
fn default_subnet_prefix() -> u8 {
    24
}

/// The VPC: subnets in every zone, their ACLs and route tables, NAT, the endpoints.
pub(crate) struct NetworkComponent;

impl Component for NetworkComponent {
    /// Reports each problem of the stack's network as (dotted field, message).
    fn validate(&self, stack: &Stack, bad: &mut dyn FnMut(String, String)) {
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

    fn expand(&self, cx: &Cx<'_>, out: &mut Vec<ResourceSpec>) {
        let Cx {
            stack,
            env,
            region,
            zones,
            ..
        } = *cx;
        let net = &stack.network;
        let n = zones.len();
        let (public_cidrs, private_cidrs) = (&cx.public_cidrs, &cx.private_cidrs);
        out.push(
            ResourceSpec::new("network.vpc", Kind::Vpc, physical_name(env, "vpc", 255))
                .with("cidr_block", Val::str(&net.cidr))
                .with("enable_dns_support", Val::Bool(true))
                .with("enable_dns_hostnames", Val::Bool(true))
                .with("default_security_group_closed", Val::Bool(true))
                .with("default_network_acl_closed", Val::Bool(true)),
        );
        // The subnets' own network ACLs. ACLs are stateless: answers to what the subnets ask of
        // the internet (through NAT, or from S3 over its gateway endpoint) come back to ephemeral
        // ports, admitted around 3389 so no rule opens RDP or SSH to the internet (EC2.21 fails any
        // allow rule whose range covers 22 or 3389). Inside the VPC the security groups decide.
        let mut public_entries: Vec<Val> = stack
            .internet_ingress()
            .iter()
            .enumerate()
            .map(|(k, (port, cidr))| {
                acl_entry(100 + 10 * k as i64, false, "6", cidr, Some((*port, *port)))
            })
            .collect();
        public_entries.extend(acl_common(&net.cidr, 1000));
        for (id, entries) in [
            ("network.acl.public", public_entries),
            ("network.acl.private", acl_common(&net.cidr, 100)),
        ] {
            let label = id.rsplit('.').next().unwrap_or(id);
            out.push(
                ResourceSpec::new(id, Kind::NetworkAcl, physical_name(env, label, 255))
                    .with("vpc_id", Val::reference("network.vpc", "id"))
                    .with("entries", Val::List(entries)),
            );
        }
        out.push(
            ResourceSpec::new(
                "network.igw",
                Kind::InternetGateway,
                physical_name(env, "igw", 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id")),
        );
        let public_ids: Vec<String> = (0..n).map(|i| format!("network.public.{i}")).collect();
        let private_ids: Vec<String> = (0..n).map(|i| format!("network.private.{i}")).collect();
        for i in 0..n {
            for (ids, cidrs, public) in [
                (&public_ids, &public_cidrs, true),
                (&private_ids, &private_cidrs, false),
            ] {
                let label = if public { "public" } else { "private" };
                out.push(
                    ResourceSpec::new(
                        &ids[i],
                        Kind::Subnet,
                        physical_name(env, &format!("{label}-{}", zones[i]), 255),
                    )
                    .with("vpc_id", Val::reference("network.vpc", "id"))
                    .with("cidr_block", Val::str(&cidrs[i]))
                    .with("availability_zone", Val::str(&zones[i]))
                    .with("map_public_ip_on_launch", Val::Bool(public))
                    .with(
                        "network_acl_id",
                        Val::reference(format!("network.acl.{label}"), "id"),
                    ),
                );
            }
        }
        out.push(
            ResourceSpec::new(
                "network.public.routes",
                Kind::RouteTable,
                physical_name(env, "public", 255),
            )
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with(
                "routes",
                Val::list([Val::map([
                    ("destination", Val::str("0.0.0.0/0")),
                    ("target", Val::reference("network.igw", "id")),
                ])]),
            )
            .with(
                "subnet_ids",
                Val::list(public_ids.iter().map(|id| Val::reference(id, "id"))),
            ),
        );
        let nat_count = match net.nat {
            NatMode::None => 0,
            NatMode::Single => 1,
            NatMode::PerAz => n,
        };
        for i in 0..nat_count {
            let eip = format!("network.nat.{i}.ip");
            out.push(
                ResourceSpec::new(
                    &eip,
                    Kind::ElasticIp,
                    physical_name(env, &format!("nat-{}", zones[i]), 255),
                )
                .after("network.igw"),
            );
            out.push(
                ResourceSpec::new(
                    format!("network.nat.{i}"),
                    Kind::NatGateway,
                    physical_name(env, &format!("nat-{}", zones[i]), 255),
                )
                .with("subnet_id", Val::reference(&public_ids[i], "id"))
                .with("allocation_id", Val::reference(&eip, "allocation_id"))
                .after("network.igw"),
            );
        }
        for (i, private_id) in private_ids.iter().enumerate() {
            let routes = if nat_count == 0 {
                Val::list([])
            } else {
                let nat = format!("network.nat.{}", i.min(nat_count - 1));
                Val::list([Val::map([
                    ("destination", Val::str("0.0.0.0/0")),
                    ("target", Val::reference(&nat, "id")),
                ])])
            };
            out.push(
                ResourceSpec::new(
                    format!("network.private.{i}.routes"),
                    Kind::RouteTable,
                    physical_name(env, &format!("private-{}", zones[i]), 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with("routes", routes)
                .with("subnet_ids", Val::list([Val::reference(private_id, "id")])),
            );
        }

        // VPC endpoints. S3's gateway endpoint is free and always made: EMR must reach S3 from its
        // private subnet (EMR Management Guide, "private subnets"), and so do image layers pulled
        // from ECR. Interface endpoints (billed per zone-hour) only as the stack names them.
        let private_routes: Vec<String> = (0..n)
            .map(|i| format!("network.private.{i}.routes"))
            .collect();
        out.push(
            ResourceSpec::new(
                "network.endpoint.s3",
                Kind::VpcEndpoint,
                physical_name(env, "s3", 255),
            )
            .with("type", Val::str("Gateway"))
            .with("vpc_id", Val::reference("network.vpc", "id"))
            .with(
                "service_name",
                Val::str(format!("com.amazonaws.{region}.s3")),
            )
            .with(
                "route_table_ids",
                Val::list(private_routes.iter().map(|id| Val::reference(id, "id"))),
            ),
        );
        if !net.endpoints.is_empty() {
            out.push(
                ResourceSpec::new(
                    "network.endpoints.sg",
                    Kind::SecurityGroup,
                    physical_name(env, "endpoints", 255),
                )
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with(
                    "description",
                    Val::str(format!(
                        "ftctl {env}: HTTPS to the VPC's interface endpoints"
                    )),
                )
                .with("ingress", Val::list([tcp_rule_from_cidr(443, &net.cidr)])),
            );
        }
        for service in &net.endpoints {
            out.push(
                ResourceSpec::new(
                    format!("network.endpoint.{service}"),
                    Kind::VpcEndpoint,
                    physical_name(env, service, 255),
                )
                .with("type", Val::str("Interface"))
                .with("vpc_id", Val::reference("network.vpc", "id"))
                .with(
                    "service_name",
                    Val::str(format!("com.amazonaws.{region}.{service}")),
                )
                .with(
                    "subnet_ids",
                    Val::list(private_ids.iter().map(|id| Val::reference(id, "id"))),
                )
                .with(
                    "security_group_ids",
                    Val::list([Val::reference("network.endpoints.sg", "id")]),
                )
                // The service's usual name resolves to the endpoint inside the VPC, so the SDKs
                // and the AWS CLI on the instances need no endpoint setting.
                .with("private_dns_enabled", Val::Bool(true)),
            );
        }
    }
}

/// A network ACL entry (see `aws::network_acl`).
fn acl_entry(
    rule: i64,
    egress: bool,
    protocol: &str,
    cidr: &str,
    ports: Option<(u16, u16)>,
) -> Val {
    let mut m = vec![
        ("rule", Val::Int(rule)),
        ("egress", Val::Bool(egress)),
        ("protocol", Val::str(protocol)),
        ("cidr", Val::str(cidr)),
        ("action", Val::str("allow")),
    ];
    if let Some((from, to)) = ports {
        m.push(("from_port", Val::Int(from.into())));
        m.push(("to_port", Val::Int(to.into())));
    }
    Val::map(m)
}

/// What every subnet admits, from rule `first` on: anything from inside the VPC, answers from
/// anywhere on ephemeral ports except 3389; and everything out.
fn acl_common(vpc_cidr: &str, first: i64) -> Vec<Val> {
    vec![
        acl_entry(first, false, "-1", vpc_cidr, None),
        acl_entry(first + 10, false, "6", "0.0.0.0/0", Some((1024, 3388))),
        acl_entry(first + 20, false, "6", "0.0.0.0/0", Some((3390, 65535))),
        acl_entry(100, true, "-1", "0.0.0.0/0", None),
    ]
}
