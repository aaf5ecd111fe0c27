//! Which IP addresses are public unicast: the only ones landed connects to for a host a
//! review named unless the operator listed it.
//!
//! Follows IANA's special-purpose address registries: everything that is not globally
//! routable unicast is refused (loopback, private, link-local, shared CGNAT space,
//! documentation, benchmarking, multicast, reserved), and addresses that embed an IPv4
//! address (IPv4-mapped, NAT64, 6to4) are judged by the address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public, as logged and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// Globally routable unicast.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`).
    Private,
    /// Shared address space for carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `169.254.0.0/16` (cloud metadata servers live here), `fe80::/10`.
    LinkLocal,
    /// IPv6 unique-local `fc00::/7` (e.g. `fd00:ec2::254`).
    UniqueLocal,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// Multicast and broadcast.
    Multicast,
    /// Documentation, benchmarking, protocol assignments and reserved ranges.
    Reserved,
}

impl AddressClass {
    /// Words for log lines and refusals.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "a public address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private (RFC 1918) address",
            Self::SharedCgnat => "a shared (CGNAT) address",
            Self::LinkLocal => "a link-local address",
            Self::UniqueLocal => "a unique-local IPv6 address",
            Self::Unspecified => "an unspecified address",
            Self::Multicast => "a multicast or broadcast address",
            Self::Reserved => "a reserved or special-purpose address",
        }
    }
}

/// The class of `ip`.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => AddressClass::Unspecified,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedCgnat,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::LinkLocal,
        // IETF protocol assignments, TEST-NET-1/2/3, the old 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 0, 2) | (192, 88, 99) | (198, 51, 100) | (203, 0, 113) => {
            AddressClass::Reserved
        }
        (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        (255, 255, 255) if ip == Ipv4Addr::BROADCAST => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    match s[0] {
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xfc00..=0xfdff => AddressClass::UniqueLocal,
        0xff00..=0xffff => AddressClass::Multicast,
        // 2001::/23 (Teredo, benchmarking, ORCHID…), 2001:db8::/32 and 3fff::/20 (documentation).
        0x2001 if s[1] < 0x0200 || s[1] == 0x0db8 => AddressClass::Reserved,
        0x3fff if s[1] < 0x1000 => AddressClass::Reserved,
        // Global unicast is 2000::/3; everything else is unassigned or special.
        0x2000..=0x3fff => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

/// The IPv4 address an IPv6 address routes to: IPv4-mapped (`::ffff:a.b.c.d`), the
/// deprecated IPv4-compatible form (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_table() {
        use AddressClass::*;
        let cases = [
            ("8.8.8.8", Public),
            ("142.250.0.1", Public),
            ("10.0.0.7", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("100.128.0.1", Public),
            ("127.0.0.1", Loopback),
            ("127.8.9.10", Loopback),
            ("169.254.169.254", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("192.0.2.1", Reserved),
            ("198.18.0.1", Reserved),
            ("203.0.113.9", Reserved),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Multicast),
            ("240.0.0.1", Reserved),
            ("2607:f8b0::1", Public),
            ("2a00:1450::1", Public),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fe80::1", LinkLocal),
            ("fd00:ec2::254", UniqueLocal),
            ("fc00::1", UniqueLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("2001::1", Reserved),
            ("3fff::1", Reserved),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.0.0.7", Private),
            ("::ffff:8.8.8.8", Public),
            ("::10.0.0.7", Private),
            ("64:ff9b::a00:7", Private),
            ("64:ff9b::808:808", Public),
            ("2002:a00:7::1", Private),
            ("2002:808:808::1", Public),
            ("100::1", Reserved),
        ];
        for (text, want) in cases {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(classify(ip), want, "{text}");
        }
    }
}
