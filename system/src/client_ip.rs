//! The client IP used for rate limits.
//!
//! By default it is the TCP peer address: headers are not trusted, as any
//! client can send `X-Forwarded-For`. With `TRUSTED_PROXIES` (a comma list
//! of addresses or CIDR ranges), a peer inside those ranges is a proxy: the
//! client is then the right-most `X-Forwarded-For` entry that is not itself
//! a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `TRUSTED_PROXIES`; empty means "trust no header".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Cidr::parse(s).ok_or_else(|| ConfigError::Invalid {
                    var: "TRUSTED_PROXIES",
                    value: list.to_owned(),
                    reason: format!("{s:?} is not an IP address or CIDR range"),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        let Some(peer) = peer else {
            return "unknown".to_owned();
        };
        let peer_ip = canonical(peer.ip());
        if !self.trusts(peer_ip) {
            return peer_ip.to_string();
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .map(canonical)
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer_ip)
            .to_string()
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn peer_address_wins_without_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(peer("203.0.113.9"), &xff("1.2.3.4")),
            "203.0.113.9"
        );
        assert_eq!(
            none.client_ip(peer("::ffff:10.0.0.7"), &HeaderMap::new()),
            "10.0.0.7"
        );
        assert_eq!(none.client_ip(None, &HeaderMap::new()), "unknown");
    }

    #[test]
    fn trusted_proxy_forwards_the_rightmost_untrusted_address() {
        let trusted = TrustedProxies::parse("172.16.0.0/12, 10.0.0.1").unwrap();
        let headers = xff("1.1.1.1, 198.51.100.4, 172.18.0.3");
        assert_eq!(
            trusted.client_ip(peer("172.18.0.2"), &headers),
            "198.51.100.4"
        );
        assert_eq!(
            trusted.client_ip(peer("10.0.0.1"), &xff("garbage")),
            "10.0.0.1"
        );
        // An untrusted peer's header is ignored.
        assert_eq!(trusted.client_ip(peer("10.0.0.2"), &headers), "10.0.0.2");
    }

    #[test]
    fn bad_entries_are_config_errors() {
        for bad in ["10.0.0.0/33", "nope", "::1/129"] {
            let err = TrustedProxies::parse(bad).unwrap_err().to_string();
            assert!(err.contains("TRUSTED_PROXIES"), "{err}");
        }
        assert!(TrustedProxies::parse("0.0.0.0/0,::/0").is_ok());
    }
}
