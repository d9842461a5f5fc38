//! The address of the client behind a reverse proxy. Only the proxies an
//! operator lists in `GOFLIX_TRUSTED_PROXIES` are believed: when the peer
//! is one of them, `X-Forwarded-For` is read from the right and the first
//! address that is not itself a trusted proxy is the client. Anything else
//! (no list, an untrusted peer, a malformed entry) falls back to the peer,
//! so a client cannot pick its own rate-limit key by sending the header.

use std::net::IpAddr;
use std::str::FromStr;

/// Longest `X-Forwarded-For` value read; longer ones are ignored whole.
const MAX_FORWARDED_FOR_BYTES: usize = 4096;

/// An address block such as `10.0.0.0/8` or `fd00::/8` (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// Whether `ip` lies in the block (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
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

impl FromStr for IpBlock {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = address
            .parse::<IpAddr>()
            .map(canonical)
            .map_err(|_| format!("{text:?} is not an address or block like 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has a prefix length outside 0–{max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

/// The reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpBlock>);

impl TrustedProxies {
    /// Parses a comma-separated list of blocks; empty means none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(IpBlock::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client of a request from `peer` that carried `forwarded_for`
    /// (every `X-Forwarded-For` value, in order, joined by commas).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer.map(canonical);
        let (Some(peer_ip), Some(header)) = (peer, forwarded_for) else {
            return peer;
        };
        if !self.trusts(peer_ip) || header.len() > MAX_FORWARDED_FOR_BYTES {
            return peer;
        }
        let mut client = peer_ip;
        for entry in header.rsplit(',') {
            let Ok(hop) = entry.trim().parse::<IpAddr>().map(canonical) else {
                // A hop we cannot read: stop at the last address we could trust.
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let block: IpBlock = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")));
        let v6: IpBlock = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let everything: IpBlock = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains(ip("203.0.113.9")));
        let single: IpBlock = "127.0.0.1".parse().unwrap();
        assert!(single.contains(ip("127.0.0.1")) && !single.contains(ip("127.0.0.2")));
    }

    #[test]
    fn malformed_lists_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0/8",
            "localhost",
            "1.2.3.4/-1",
        ] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TrustedProxies::parse(" ").unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_trusted() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(Some(ip("10.0.0.5")), Some("1.2.3.4")),
            Some(ip("10.0.0.5"))
        );
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            proxies.client(Some(ip("198.51.100.7")), Some("1.2.3.4")),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(proxies.client(None, Some("1.2.3.4")), None);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.0.0/16").unwrap();
        // The client forged the leftmost entry; the proxies appended the rest.
        let header = "6.6.6.6, 203.0.113.9, 192.168.1.1";
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), Some(header)),
            Some(ip("203.0.113.9"))
        );
        // Every hop trusted: the leftmost is as far as we can see.
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), Some("10.9.9.9")),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn garbage_hops_stop_the_walk() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), Some("1.2.3.4, not-an-ip")),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), Some("1.2.3.4, 10.0.0.3, \0")),
            Some(ip("10.0.0.2"))
        );
        let huge = "1.1.1.1,".repeat(1000);
        assert_eq!(
            proxies.client(Some(ip("10.0.0.2")), Some(&huge)),
            Some(ip("10.0.0.2"))
        );
    }
}
