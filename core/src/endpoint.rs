//! Where users reach a deployment: the URL of a load balancer or a DNS record, as `apply` prints
//! them after a run and as `ftctl chaos` sends its load to by default. One place, so the two
//! never disagree about scheme or port.

use crate::resource::{Kind, Observed, Val};

/// The URL of `o`, a load balancer or a DNS record, among the deployment's resources `all`.
pub fn url(o: &Observed, all: &[Observed]) -> Option<String> {
    match o.kind {
        Kind::DnsRecord => {
            // A record in a public zone is served over HTTPS with the zone's certificate.
            let https = all.iter().any(|c| c.kind == Kind::Certificate);
            Some(format!(
                "{}://{}",
                if https { "https" } else { "http" },
                o.name
            ))
        }
        Kind::LoadBalancer => {
            let dns = o.outputs.get("dns_name").filter(|d| !d.is_empty())?;
            let ports = |protocol: &str| {
                all.iter()
                    .filter(|l| {
                        l.kind == Kind::Listener
                            && l.props.get("load_balancer_arn").and_then(Val::as_str)
                                == Some(o.physical_id.as_str())
                            && l.props.get("protocol").and_then(Val::as_str) == Some(protocol)
                    })
                    .filter_map(|l| l.props.get("port").and_then(Val::as_i64))
                    .min()
            };
            // Plain HTTP first: the balancer's own name matches no certificate, so HTTPS to it
            // fails verification (the DNS record is the HTTPS name).
            Some(match (ports("HTTP"), ports("HTTPS")) {
                (Some(80) | None, None) | (Some(80), _) => format!("http://{dns}"),
                (Some(port), _) => format!("http://{dns}:{port}"),
                (None, Some(443)) => format!("https://{dns}"),
                (None, Some(port)) => format!("https://{dns}:{port}"),
            })
        }
        _ => None,
    }
}

/// Where the deployment's users reach it: a DNS record in a public hosted zone (one that has
/// name servers), else its internet-facing load balancer.
pub fn public(all: &[Observed]) -> Option<String> {
    let public_zone = all.iter().any(|z| {
        z.kind == Kind::HostedZone && z.outputs.get("name_servers").is_some_and(|n| !n.is_empty())
    });
    let record = all
        .iter()
        .filter(|o| public_zone && o.kind == Kind::DnsRecord)
        .find_map(|o| url(o, all));
    record.or_else(|| {
        all.iter()
            .filter(|o| {
                o.kind == Kind::LoadBalancer
                    && o.props.get("scheme").and_then(Val::as_str) == Some("internet-facing")
            })
            .find_map(|o| url(o, all))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(scheme: &str) -> Observed {
        Observed::new("lb.public", Kind::LoadBalancer, "arn:lb/1")
            .prop("scheme", Val::str(scheme))
            .output("dns_name", "shop-1.us-east-1.elb.amazonaws.com")
    }

    fn listener(protocol: &str, port: i64) -> Observed {
        Observed::new(
            "lb.public.listener",
            Kind::Listener,
            &format!("arn:l/{port}"),
        )
        .prop("load_balancer_arn", Val::str("arn:lb/1"))
        .prop("protocol", Val::str(protocol))
        .prop("port", Val::Int(port))
    }

    #[test]
    fn a_balancer_is_reached_on_its_plain_http_listener() {
        let all = vec![
            lb("internet-facing"),
            listener("HTTP", 80),
            listener("HTTPS", 443),
        ];
        assert_eq!(
            public(&all).as_deref(),
            Some("http://shop-1.us-east-1.elb.amazonaws.com")
        );
        let all = vec![lb("internet-facing"), listener("HTTP", 8080)];
        assert_eq!(
            url(&all[0], &all).as_deref(),
            Some("http://shop-1.us-east-1.elb.amazonaws.com:8080")
        );
        let all = vec![lb("internet-facing"), listener("HTTPS", 443)];
        assert_eq!(
            url(&all[0], &all).as_deref(),
            Some("https://shop-1.us-east-1.elb.amazonaws.com")
        );
        // An internal balancer is nobody's public endpoint.
        let all = vec![lb("internal"), listener("HTTP", 80)];
        assert_eq!(public(&all), None);
    }

    #[test]
    fn a_public_record_comes_before_the_balancer() {
        let mut record = Observed::new("dns.www", Kind::DnsRecord, "Z1_www");
        record.name = "www.shop.example.com".into();
        let zone =
            Observed::new("dns.zone", Kind::HostedZone, "Z1").output("name_servers", "ns-1,ns-2");
        let cert = Observed::new("dns.cert", Kind::Certificate, "arn:acm/1");
        let all = vec![
            lb("internet-facing"),
            listener("HTTP", 80),
            record.clone(),
            zone,
            cert,
        ];
        assert_eq!(
            public(&all).as_deref(),
            Some("https://www.shop.example.com")
        );
        // A private zone's record is not reachable from outside the VPC.
        let private = Observed::new("dns.zone", Kind::HostedZone, "Z1");
        let all = vec![lb("internet-facing"), listener("HTTP", 80), record, private];
        assert_eq!(
            public(&all).as_deref(),
            Some("http://shop-1.us-east-1.elb.amazonaws.com")
        );
    }
}
