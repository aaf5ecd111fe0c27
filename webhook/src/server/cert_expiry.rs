//! When a serving certificate expires: `notAfter` read from its DER (RFC 5280, 4.1.2.5).
//!
//! The certificate is the server's own (a file landed.yaml names), and rustls does not expose
//! its validity; reading the few elements up to `validity` is cheaper than a full X.509 parser.

use time::{Date, Month, PrimitiveDateTime, Time};

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// `notAfter` of a DER certificate as Unix seconds; `None` when it does not parse.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, after_not_before) = element(validity)?;
    let (tag, text, _) = element(after_not_before)?;
    unix_time(tag, text)
}

/// One DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (len, rest) = rest.split_at(octets);
        let len = len.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn unix_time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        digits.get(range)?.iter().try_fold(0u16, |n, d| {
            n.checked_mul(10)?.checked_add(u16::from(d - b'0'))
        })
    };
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = number(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (GENERALIZED_TIME, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let field =
        |i: usize| number(rest + 2 * i..rest + 2 * i + 2).and_then(|n| u8::try_from(n).ok());
    let date =
        Date::from_calendar_date(i32::from(year), Month::try_from(field(0)?).ok()?, field(1)?)
            .ok()?;
    let time = Time::from_hms(field(2)?, field(3)?, field(4)?).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use time::OffsetDateTime;

    fn utc(y: i32, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> OffsetDateTime {
        let month = Month::try_from(mo).expect("month");
        Date::from_calendar_date(y, month, d)
            .and_then(|date| date.with_hms(h, mi, s))
            .expect("date")
            .assume_utc()
    }

    fn der_expiring(at: OffsetDateTime) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.not_after = at;
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("sign").der().to_vec()
    }

    #[test]
    fn reads_utc_time_and_generalized_time() {
        // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050 on.
        for at in [
            utc(2027, 3, 1, 12, 34, 56),
            utc(2049, 12, 31, 23, 59, 59),
            utc(2051, 6, 15, 0, 0, 1),
        ] {
            assert_eq!(
                not_after(&der_expiring(at)),
                Some(at.unix_timestamp()),
                "{at}"
            );
        }
    }

    #[test]
    fn reads_certificates_landed_issues() {
        let ca = crate::server::certs::CertAuthority::generate(2).expect("ca");
        let before = OffsetDateTime::now_utc().unix_timestamp();
        let bundle = ca.issue(&["localhost".to_owned()], 3).expect("issue");
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(bundle.cert_pem.as_bytes())
            .map(|c: rustls::pki_types::CertificateDer<'_>| c.to_vec())
            .expect("pem");
        let expiry = not_after(&der).expect("parses");
        let three_days = 3 * 86_400;
        assert!(
            (before + three_days - 5..=before + three_days + 5).contains(&expiry),
            "{expiry} vs {before}"
        );
    }

    #[test]
    fn garbage_and_truncated_input_give_none() {
        let der = der_expiring(utc(2030, 1, 1, 0, 0, 0));
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"not a certificate"), None);
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            assert_eq!(not_after(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(unix_time(UTC_TIME, b"301332000000Z"), None, "month 13");
        assert_eq!(unix_time(UTC_TIME, b"3001010000+0"), None, "no Z");
        assert_eq!(unix_time(0x04, b"300101000000Z"), None, "not a time tag");
    }
}
