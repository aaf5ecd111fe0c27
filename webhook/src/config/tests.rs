//! Parsing and validating landed.yaml as a whole.

use std::time::Duration;

use super::*;
use crate::policy::FailurePolicy;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, Path::new("landed.yaml"))
}

#[test]
fn empty_file_is_the_default_config() {
    assert_eq!(parse("# nothing\n").expect("empty"), Config::default());
    assert_eq!(parse("").expect("empty"), Config::default());
}

#[test]
fn unknown_field_is_refused_with_its_line() {
    let err = parse("mode: warn\nserver:\n  listen: 127.0.0.1:9443\n  tlsCert: /x\n")
        .expect_err("unknown field");
    let text = err.to_string();
    assert!(text.contains("tlsCert"), "{text}");
    assert!(text.contains("line 4"), "{text}");
}

#[test]
fn misspelled_enum_value_is_refused() {
    let err = parse("mode: enforcing\n").expect_err("bad mode");
    assert!(err.to_string().contains("enforcing"), "{err}");
}

#[test]
fn deadline_must_stay_below_the_webhook_timeout() {
    let err = parse("resolve:\n  deadline: 10s\nserver:\n  webhookTimeout: 5s\n")
        .expect_err("deadline too long");
    assert!(err.to_string().contains("resolve.deadline"), "{err}");
    parse("resolve:\n  deadline: 2s\nserver:\n  webhookTimeout: 5s\n").expect("valid budgets");
}

#[test]
fn breakglass_skips_must_name_configured_policies() {
    let err = parse("breakglass:\n  skips: [require-landd]\n").expect_err("typo");
    let text = err.to_string();
    assert!(
        text.contains("breakglass.skips") && text.contains("require-landd"),
        "{text}"
    );
    let config = parse(
            "breakglass:\n  groups: [oncall@example.com]\n  skips: [require-landed, custom]\npolicies:\n  - name: require-landed\n  - name: custom\n    path: custom.wasm\n",
        )
        .expect("valid");
    assert_eq!(config.breakglass.groups, ["oncall@example.com"]);
    assert!(config.breakglass.skips("custom"));
    // The default skip names a built-in this config does not run: nothing to skip, no error.
    parse("policies:\n  - name: no-latest-tag\n").expect("default skips");
}

#[test]
fn review_settings_carry_the_overrides_and_the_default_exclusions() {
    let config = parse("mode: warn\nnamespaces:\n  staging: {mode: audit}\n").expect("valid");
    let settings = config.review_settings(Some("landed".into()));
    assert_eq!(settings.effective(Some("staging")).0, Mode::Audit);
    assert_eq!(settings.effective(Some("shop")).0, Mode::Warn);
    assert!(settings.skips_namespace(Some("kube-system")));
    assert!(settings.skips_namespace(Some("landed")));
    assert!(!config
        .review_settings(Some(String::new()))
        .skips_namespace(Some("")));
}

#[test]
fn yaml_fields() {
    let yaml = r#"
registries:
  - host: us-docker.pkg.dev
    endpoint: http://127.0.0.1:5000
    insecureHttp: true
    auth: gcp
  - host: reg.example
    caFile: /etc/ca.pem
    auth: none
dockerConfig: /etc/docker/config.json
resolve:
  deadline: 2s
  requestTimeout: 1500ms
  deepCheck: true
cache:
  tagTtl: 1m
  absentTtl: 5s
"#;
    let config = Config::from_yaml(yaml, Path::new("t.yaml")).expect("parse");
    assert_eq!(
        config.registries[0].auth_mode(),
        crate::registry::AuthMode::Gcp
    );
    assert_eq!(
        config.registries[1].auth_mode(),
        crate::registry::AuthMode::None
    );
    assert!(config.resolve.deep_check);
    assert_eq!(config.cache.tag_ttl, std::time::Duration::from_secs(60));
    assert_eq!(
        config.cache.digest_ttl,
        std::time::Duration::from_secs(3600)
    );
    assert!(config.resolve.validate().is_ok());
    let bad = crate::resolve::ResolveConfig {
        request_timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    assert!(
        bad.validate().is_err(),
        "request timeout above the deadline"
    );
}

#[test]
fn a_google_host_with_an_endpoint_must_say_where_its_token_goes() {
    let yaml = "registries:\n  - host: us-docker.pkg.dev\n    endpoint: https://mirror.example\n";
    let err = Config::from_yaml(yaml, Path::new("l.yaml"))
        .expect_err("implicit gcp auth towards another endpoint");
    let text = err.to_string();
    assert!(
        text.contains("registries[0]") && text.contains("auth:"),
        "{text}"
    );
    for auth in ["gcp", "none", "dockerConfig"] {
        let yaml = format!("{yaml}    auth: {auth}\n");
        Config::from_yaml(&yaml, Path::new("l.yaml")).expect("explicit auth");
    }
    let plain = "registries:\n  - host: reg.example\n    endpoint: https://127.0.0.1:5000\n";
    Config::from_yaml(plain, Path::new("l.yaml")).expect("not a Google host");
}

#[test]
fn config_lists_policies_with_settings_mode_and_failure_policy() {
    let yaml = "policies:\n  - name: allowed-registries\n    settings:\n      registries: [gcr.io]\n    mode: warn\n    failurePolicy: Ignore\n  - name: mine\n    path: p.wasm\npolicyDir: /opt/p\npolicyLimits:\n  deadline: 250ms\n  maxMemoryMib: 32\n";
    let config =
        Config::from_yaml(yaml, Path::new("landed.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let entries = config.policies.clone().unwrap_or_default();
    assert_eq!(
        entries[0].settings,
        serde_json::json!({"registries": ["gcr.io"]})
    );
    assert_eq!(entries[0].mode, Some(Mode::Warn));
    assert_eq!(entries[0].failure_policy, Some(FailurePolicy::Ignore));
    assert_eq!(entries[1].path.as_deref(), Some(Path::new("p.wasm")));
    assert_eq!(config.policy_limits.deadline, Duration::from_millis(250));
    assert_eq!(
        crate::policy::policy_dir(config.policy_dir.as_deref()),
        Path::new("/opt/p")
    );
    let bad = Config::from_yaml(
        "policies:\n  - name: x\n    pth: a.wasm\n",
        Path::new("l.yaml"),
    );
    assert!(bad.is_err());
}

#[test]
fn a_bad_resolve_section_is_refused_at_load() {
    let err = parse("resolve:\n  requestTimeout: 3s\n  deadline: 2s\n")
        .expect_err("request above deadline");
    assert!(err.to_string().contains("resolve.requestTimeout"), "{err}");
    let err = parse("resolve:\n  maxHosts: 0\n").expect_err("no hosts");
    assert!(err.to_string().contains("maxHosts"), "{err}");
}

#[test]
fn policy_limits_that_leave_no_room_are_refused_at_load() {
    for (yaml, field) in [
        ("policyLimits:\n  deadline: 0s\n", "policyLimits.deadline"),
        (
            "policyLimits:\n  maxConcurrent: 0\n",
            "policyLimits.maxConcurrent",
        ),
        (
            "policyLimits:\n  maxOutputBytes: 0\n",
            "policyLimits.maxOutputBytes",
        ),
    ] {
        let err = parse(yaml).expect_err(yaml);
        assert!(err.to_string().contains(field), "{yaml}: {err}");
    }
}

#[test]
fn server_limits_parse_and_are_checked() {
    let config = parse(
        "server:\n  clientCaFile: /tls/ca.crt\n  headerReadTimeout: 3s\n  requestTimeout: 12s\n  maxConnections: 64\n",
    )
    .expect("valid limits");
    assert_eq!(
        config.server.client_ca_file,
        Some(std::path::PathBuf::from("/tls/ca.crt"))
    );
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(3));
    assert_eq!(
        config.server.effective_request_timeout(),
        Duration::from_secs(12)
    );
    assert_eq!(config.server.max_connections, 64);
    assert_eq!(
        Config::default().server.effective_request_timeout(),
        Duration::from_secs(12)
    );
    let err = parse("server:\n  requestTimeout: 1s\n").expect_err("below the deadline");
    assert!(err.to_string().contains("server.requestTimeout"), "{err}");
    let err = parse("server:\n  maxConnections: 0\n").expect_err("zero connections");
    assert!(err.to_string().contains("maxConnections"), "{err}");
    let err = parse("server:\n  headerReadTimeout: 0s\n").expect_err("zero timeout");
    assert!(err.to_string().contains("headerReadTimeout"), "{err}");
    let err = parse("server:\n  idleTimeout: 1s\n").expect_err("idle below headers");
    assert!(err.to_string().contains("server.idleTimeout"), "{err}");
}

#[test]
fn http2_idle_timeout_and_max_connection_age_parse_and_are_checked() {
    let defaults = crate::server::ServerConfig::default();
    assert_eq!(defaults.http2_idle_timeout, Duration::from_secs(120));
    assert_eq!(defaults.max_connection_age, Duration::from_secs(300));
    let config =
        parse("server:\n  http2IdleTimeout: 100s\n  maxConnectionAge: 10m\n").expect("valid");
    assert_eq!(config.server.http2_idle_timeout, Duration::from_secs(100));
    assert_eq!(config.server.max_connection_age, Duration::from_secs(600));
    let err = parse("server:\n  http2IdleTimeout: 1s\n").expect_err("below headers");
    assert!(err.to_string().contains("server.http2IdleTimeout"), "{err}");
    let err = parse("server:\n  maxConnectionAge: 0s\n").expect_err("zero age");
    assert!(err.to_string().contains("server.maxConnectionAge"), "{err}");
}

#[test]
fn audit_reports_default_to_openreports_and_name_one_of_two_apis() {
    use crate::audit::ReportFormat;
    assert_eq!(Config::default().audit.reports, ReportFormat::Openreports);
    let config = parse("audit:\n  policyReports: true\n  reports: wgpolicyk8s\n").expect("valid");
    assert_eq!(config.audit.reports, ReportFormat::Wgpolicyk8s);
    let err = parse("audit:\n  reports: policyreport\n").expect_err("unknown API");
    let text = err.to_string();
    assert!(
        text.contains("policyreport") && text.contains("line 2"),
        "{text}"
    );
}
