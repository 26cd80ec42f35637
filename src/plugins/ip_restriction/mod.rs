//! Kong's `ip-restriction` plugin (priority 990): the client's address (the direct peer)
//! against `deny`, then `allow` lists of IPv4/IPv6 addresses and CIDRs; Kong's 403
//! `IP address not allowed: <ip>` unless `status`/`message` say otherwise.

use crate::error::GatewayError;
use crate::plugins::factory::{CheckCtx, Checked, Factory, FieldIssues};
use crate::plugins::{BuildCtx, Flow, Plugin, RequestState, Scope};
use async_trait::async_trait;
use pingora::proxy::Session;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// Kong's `ip-restriction` config.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IpRestrictionConfig {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
    pub status: Option<u16>,
    pub message: Option<String>,
}

/// An address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `::1`, `2001:db8::/32`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { net, bits })
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The parsed lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Lists {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

/// A configured `ip-restriction` instance.
#[derive(Debug)]
pub struct IpRestriction {
    lists: Lists,
    status: u16,
    message: Option<String>,
}

fn parse_list(field: &str, list: &Option<Vec<String>>, out: &mut FieldIssues) -> Vec<Cidr> {
    let mut parsed = Vec::new();
    for (i, s) in list.iter().flatten().enumerate() {
        match Cidr::parse(s) {
            Some(c) => parsed.push(c),
            None => out.push((
                format!("{field}[{i}]"),
                format!("invalid ip or cidr range: '{s}'"),
            )),
        }
    }
    parsed
}

impl Factory for IpRestriction {
    type Spec = IpRestrictionConfig;
    type Typed = Lists;

    fn check(spec: &IpRestrictionConfig, _ctx: &CheckCtx<'_>) -> Result<Lists, FieldIssues> {
        let mut out = Vec::new();
        if spec.allow.as_ref().is_none_or(Vec::is_empty)
            && spec.deny.as_ref().is_none_or(Vec::is_empty)
        {
            out.push((
                String::new(),
                "at least one of these fields must be non-empty: 'config.allow', 'config.deny'"
                    .into(),
            ));
        }
        let allow = parse_list("allow", &spec.allow, &mut out);
        let deny = parse_list("deny", &spec.deny, &mut out);
        if spec.status.is_some_and(|s| !(100..=599).contains(&s)) {
            out.push((
                "status".into(),
                "value should be between 100 and 599".into(),
            ));
        }
        if out.is_empty() {
            Ok(Lists { allow, deny })
        } else {
            Err(out)
        }
    }

    fn build(c: &Checked<IpRestrictionConfig, Lists>, _: &BuildCtx, _: &Scope) -> Arc<dyn Plugin> {
        Arc::new(IpRestriction {
            lists: c.typed.clone(),
            status: c.spec.status.unwrap_or(403),
            message: c.spec.message.clone(),
        })
    }
}

#[async_trait]
impl Plugin for IpRestriction {
    fn name(&self) -> &'static str {
        "ip-restriction"
    }

    crate::plugins::access_by_admit!();
}

impl IpRestriction {
    /// The access phase: it never waits, so the proxy calls it directly (`access_now`).
    fn admit(
        &self,
        session: &mut Session,
        _state: &mut RequestState,
    ) -> Result<Flow, GatewayError> {
        let Some(ip) = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
        else {
            return Err(GatewayError::refused(
                403,
                "Cannot identify the client IP address, unix domain sockets are not supported.",
            ));
        };
        let denied = self.lists.deny.iter().any(|c| c.contains(ip));
        let allowed =
            self.lists.allow.is_empty() || self.lists.allow.iter().any(|c| c.contains(ip));
        if denied || !allowed {
            let message = match &self.message {
                Some(m) => m.clone(),
                None => format!("IP address not allowed: {ip}"),
            };
            return Err(GatewayError::refused(self.status, message));
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn cidrs_match_v4_v6_and_mapped_addresses() {
        let net = Cidr::parse("10.1.0.0/16").expect("cidr");
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let one = Cidr::parse("127.0.0.1").expect("addr");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("2001:db8::/32").expect("v6");
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nope"), None);
    }
}
