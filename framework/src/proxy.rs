//! Who the client is behind a reverse proxy: `X-Forwarded-For` and `X-Forwarded-Proto`,
//! believed only when the TCP peer is a configured trusted proxy.
//!
//! A client can send any `X-Forwarded-For` it likes, so the header is read from the right:
//! each proxy appends the address it received the request from. Walking right to left,
//! trusted proxies are skipped; the first address not trusted is the client. A request that
//! did not come from a trusted proxy is its TCP peer, whatever its headers say.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// Whether `ip` is inside any trusted network.
pub(crate) fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client's address, given the TCP `peer`, the values of every `X-Forwarded-For` header
/// in order, and the trusted proxy networks.
pub(crate) fn client_ip<'v>(
    peer: SocketAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'v str>,
    trusted: &[IpNet],
) -> IpAddr {
    let mut client = peer.ip().to_canonical();
    if !is_trusted(client, trusted) {
        return client;
    }
    for value in forwarded_for.rev() {
        for entry in value.rsplit(',') {
            let Some(hop) = parse_hop(entry.trim()) else {
                // Garbage cannot be a proxy's doing: stop at the last address we could vouch for.
                return client;
            };
            client = hop;
            if !is_trusted(hop, trusted) {
                return hop;
            }
        }
    }
    client
}

/// The scheme the client used: `X-Forwarded-Proto` from a trusted proxy (`https` or `http`),
/// else `http`, which is what carafe itself speaks. `forwarded_proto` is the last such header.
pub(crate) fn scheme<'v>(
    peer: SocketAddr,
    forwarded_proto: Option<&'v str>,
    trusted: &[IpNet],
) -> &'v str {
    if !is_trusted(peer.ip(), trusted) {
        return "http";
    }
    // The rightmost entry is the one our trusted proxy wrote. (Entries to its left came from
    // further away, possibly from the client itself through a proxy that appends.)
    match forwarded_proto
        .and_then(|value| value.rsplit(',').next())
        .map(str::trim)
    {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:443` or `1.2.3.4:80`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|net| net.parse().unwrap()).collect()
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 50000)
    }

    #[test]
    fn client_ip_table() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let cases: [(&str, &[&str], &str); 9] = [
            // Untrusted peers are themselves, whatever they claim.
            ("203.0.113.9", &["1.1.1.1"], "203.0.113.9"),
            // A trusted proxy vouches for the hop it appended.
            ("127.0.0.1", &["198.51.100.7"], "198.51.100.7"),
            // Spoofed entries to the left of the real client are ignored.
            ("127.0.0.1", &["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
            // Trusted proxies in the chain are skipped.
            ("127.0.0.1", &["198.51.100.7, 10.1.2.3"], "198.51.100.7"),
            // Several headers form one list, in order.
            ("127.0.0.1", &["198.51.100.7", "10.1.2.3"], "198.51.100.7"),
            // Ports and bracketed IPv6.
            ("127.0.0.1", &["[2001:db8::1]:443"], "2001:db8::1"),
            ("127.0.0.1", &["198.51.100.7:8080"], "198.51.100.7"),
            // Garbage stops the walk at the last address vouched for.
            ("127.0.0.1", &["198.51.100.7, not-an-ip"], "127.0.0.1"),
            // No header: the proxy itself.
            ("127.0.0.1", &[], "127.0.0.1"),
        ];
        for (from, headers, expected) in cases {
            let got = client_ip(peer(from), headers.iter().copied(), &trusted);
            assert_eq!(
                got,
                expected.parse::<IpAddr>().unwrap(),
                "peer {from}, headers {headers:?}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = nets(&["127.0.0.1/32"]);
        let got = client_ip(
            peer("::ffff:127.0.0.1"),
            ["198.51.100.7"].into_iter(),
            &trusted,
        );
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn scheme_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(scheme(peer("127.0.0.1"), Some("https"), &trusted), "https");
        assert_eq!(
            scheme(peer("127.0.0.1"), Some("http, HTTPS"), &trusted),
            "https"
        );
        // A client-supplied value to the left of the proxy's own is not believed.
        assert_eq!(
            scheme(peer("127.0.0.1"), Some("https, http"), &trusted),
            "http"
        );
        assert_eq!(scheme(peer("127.0.0.1"), Some("http"), &trusted), "http");
        assert_eq!(scheme(peer("127.0.0.1"), None, &trusted), "http");
        assert_eq!(scheme(peer("203.0.113.9"), Some("https"), &trusted), "http");
    }
}
