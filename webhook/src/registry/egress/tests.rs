use super::*;

fn review_rule(yaml_private: &[&str], deny_unlisted: bool) -> Egress {
    let config = EgressConfig {
        allow_private_hosts: yaml_private.iter().map(|s| (*s).to_owned()).collect(),
        deny_unlisted,
    };
    Egress::new(&config, Origin::Review).expect("valid rule")
}

fn url(text: &str) -> reqwest::Url {
    reqwest::Url::parse(text).expect("url")
}

#[test]
fn registries_a_review_names_on_internal_addresses_are_refused() {
    let rule = review_rule(&[], false);
    for host in [
        "10.0.0.7:6379",
        "127.0.0.1:10250",
        "169.254.169.254",
        "[fd00:ec2::254]",
        "[::ffff:127.0.0.1]:8080",
        "100.64.1.1",
        "0.0.0.0:22",
        "[::1]:5000",
    ] {
        let refusal = rule.admit_registry(host, false).expect_err(host);
        assert_eq!(refusal.reason, RefusalReason::PrivateAddress, "{host}");
        let detail = refusal.client_detail();
        assert!(detail.starts_with("not contacted: "), "{detail}");
        assert!(
            detail.contains("list the registry under registries:"),
            "{detail}"
        );
    }
    // Names pass here: their addresses are checked when they resolve.
    for host in ["ghcr.io", "registry.example:5000", "kubernetes.default.svc"] {
        rule.admit_registry(host, false).expect(host);
    }
    rule.admit_registry("10.0.0.7:5000", true)
        .expect("a listed registry is contacted wherever it is");
}

#[test]
fn google_hosts_count_as_listed_on_port_443_only() {
    let rule = review_rule(&[], true);
    for host in ["us-docker.pkg.dev", "gcr.io", "eu.gcr.io", "gcr.io:443"] {
        rule.admit_registry(host, false).expect(host);
    }
    let refusal = rule
        .admit_registry("us-docker.pkg.dev:6379", false)
        .expect_err("other port");
    assert_eq!(refusal.reason, RefusalReason::Port);
    assert!(rule.exempt_name("europe-west1-docker.pkg.dev", &Reach::default()));
}

#[test]
fn deny_unlisted_contacts_listed_registries_only() {
    let rule = review_rule(&[], true);
    let refusal = rule.admit_registry("ghcr.io", false).expect_err("unlisted");
    assert_eq!(refusal.reason, RefusalReason::Unlisted);
    rule.admit_registry("ghcr.io", true).expect("listed");
    let operator = Egress::new(
        &EgressConfig {
            deny_unlisted: true,
            ..EgressConfig::default()
        },
        Origin::Operator,
    )
    .expect("rule");
    assert!(operator.admit_registry("ghcr.io", false).is_err());
}

#[test]
fn the_operator_origin_contacts_what_it_is_asked() {
    let rule = Egress::new(&EgressConfig::default(), Origin::Operator).expect("rule");
    rule.admit_registry("127.0.0.1:5000", false)
        .expect("landed check names its own registry");
    assert!(rule.exempt_name("localhost", &Reach::default()));
}

#[test]
fn allow_private_hosts_takes_names_wildcards_addresses_and_ranges() {
    let rule = review_rule(
        &[
            "registry.corp.internal",
            "*.mirror.internal",
            "10.20.0.0/16",
            "fd00::5",
        ],
        false,
    );
    let reach = Reach::default();
    assert!(rule.exempt_name("Registry.Corp.Internal", &reach));
    assert!(rule.exempt_name("eu.mirror.internal", &reach));
    assert!(
        !rule.exempt_name("mirror.internal", &reach),
        "the wildcard needs a label"
    );
    assert!(!rule.exempt_name("evil-mirror.internal", &reach));
    rule.admit_registry("10.20.3.4:5000", false)
        .expect("in the range");
    rule.admit_registry("[fd00::5]", false)
        .expect("the address");
    assert!(rule.admit_registry("10.21.0.1", false).is_err());
    let bad = EgressConfig {
        allow_private_hosts: vec!["http://x/".into()],
        ..EgressConfig::default()
    };
    let err = bad.validate().expect_err("not a host");
    assert!(err.contains("egress.allowPrivateHosts[0]"), "{err}");
}

#[test]
fn realms_and_redirects_stay_inside_the_rule() {
    let rule = review_rule(&[], false);
    let public = Reach::default();
    rule.check_url(&url("https://auth.docker.io/token"), &public)
        .expect("public https realm");
    for (target, reason) in [
        ("http://auth.example/token", RefusalReason::InsecureScheme),
        ("ftp://auth.example/token", RefusalReason::InsecureScheme),
        (
            "https://169.254.169.254/latest",
            RefusalReason::PrivateAddress,
        ),
        ("https://0x7f.1:8080/", RefusalReason::PrivateAddress),
        ("https://[::ffff:10.0.0.1]/", RefusalReason::PrivateAddress),
        (
            "http://localhost:80@127.0.0.2:9000/token",
            RefusalReason::InsecureScheme,
        ),
        (
            "https://localhost:80@127.0.0.2:9000/token",
            RefusalReason::PrivateAddress,
        ),
    ] {
        let refusal = rule.check_url(&url(target), &public).expect_err(target);
        assert_eq!(refusal.reason, reason, "{target}");
    }
    // A listed insecure registry may name a plain-http realm on its own host, any port.
    let listed = Reach {
        own_hosts: vec!["127.0.0.1".into()],
        insecure: true,
    };
    rule.check_url(&url("http://127.0.0.1:5001/token"), &listed)
        .expect("own host");
    assert!(rule
        .check_url(&url("http://127.0.0.2:5001/token"), &listed)
        .is_err());
}

#[test]
fn host_and_port_split() {
    assert_eq!(
        split_host_port("reg.example:5000"),
        ("reg.example", Some(5000))
    );
    assert_eq!(split_host_port("reg.example"), ("reg.example", None));
    assert_eq!(split_host_port("[::1]:5000"), ("::1", Some(5000)));
    assert_eq!(split_host_port("[fd00::1]"), ("fd00::1", None));
}
