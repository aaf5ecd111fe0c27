//! The chart's dashboard and alerts against a real Prometheus scraping a real `landed serve`
//! over TLS (issue #29): every dashboard query and every alert expression, read from the
//! chart's files, must return series once landed has reviewed a landed image (token auth), an
//! absent one, one on an unreachable registry, and an absent one in an audit-mode namespace.
//!
//! Dashboard queries run with Grafana's variables replaced: the interval ones by one minute,
//! `$namespace`, `$job` and `$instance` by what their own `label_values()` queries find.
//! Alert expressions are read back from Prometheus, which loaded the chart's rules file, and
//! run with every comparison turned into a `bool` one (`> 0.05` becomes `> bool 0.05`): a
//! threshold no short run reaches would otherwise filter every series out, while `bool` keeps
//! each compared series and still returns nothing when either side names a missing metric or
//! the sides' labels do not match (see `landed_e2e::promql::with_bool`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use landed_e2e::config::PolicyEntry;
use landed_e2e::fakes::kube_api::FakeKubeApi;
use landed_e2e::pki::Ca;
use landed_e2e::prometheus::{Prometheus, ScrapeTarget};
use landed_e2e::promql::{label_values, substitute, with_bool};
use landed_e2e::review::PodReview;
use landed_e2e::scenario::token_registry;
use landed_e2e::server::{free_port, LandedServer, SERVING_NAMES};
use landed_e2e::{LandedConfig, RegistryEntry};
use serde_json::Value;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/landed");
const NAMESPACE: &str = "landed-e2e";
const JOB: &str = "landed";
/// What Grafana's interval variables stand for: every sample of this short run is in it.
const WINDOW: &str = "1m";

/// Runs each `(source, query)` and describes those that fail or return no series.
fn misses(prometheus: &Prometheus, queries: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (source, query) in queries {
        let why = match prometheus.query(query) {
            Ok(series) if !series.is_empty() => continue,
            Ok(_) => "no series".to_owned(),
            Err(e) => format!("{e:#}"),
        };
        out.push(format!("{source}: {why}: {query}"));
    }
    out
}

/// The dashboard's variables resolved the way Grafana does, through Prometheus's label API:
/// each `label_values(selector, label)` must find values (joined as a regex alternative).
fn resolve_variables(
    prometheus: &Prometheus,
    dashboard: &Value,
) -> Result<BTreeMap<String, String>> {
    let mut vars: BTreeMap<String, String> = ["__rate_interval", "__interval", "__range"]
        .into_iter()
        .map(|name| (name.to_owned(), WINDOW.to_owned()))
        .collect();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = variable["name"]
            .as_str()
            .context("variable without a name")?;
        match variable["type"].as_str() {
            Some("datasource") => continue,
            Some("query") => {}
            other => bail!("variable {name}: type {other:?} is not handled by this test"),
        }
        let query = variable["query"]
            .as_str()
            .or_else(|| variable["query"]["query"].as_str())
            .context("variable query")?;
        let (selector, label) = label_values(query)?;
        let selector = substitute(&selector, &vars)?;
        let values = prometheus.label_values(&label, &selector)?;
        if values.is_empty() {
            bail!("variable ${name}: {query} finds no values");
        }
        vars.insert(name.to_owned(), values.join("|"));
    }
    Ok(vars)
}

/// Every panel target's expression, variables substituted, named by panel title.
fn dashboard_queries(
    dashboard: &Value,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().context("target without expr")?;
            let title = panel["title"].as_str().unwrap_or("?");
            let source = format!("panel {title:?} {}", target["refId"]);
            out.push((source, substitute(expr, vars)?));
        }
    }
    Ok(out)
}

/// Every alerting rule Prometheus loaded from the chart's rules file, as it parsed it, with
/// its comparisons turned into `bool` ones (see [`with_bool`]).
fn alert_queries(rules: &[Value]) -> Vec<(String, String)> {
    rules
        .iter()
        .filter(|r| r["type"] == "alerting")
        .map(|r| {
            let query = r["query"].as_str().unwrap_or_default();
            (format!("alert {}", r["name"]), with_bool(query))
        })
        .collect()
}

/// Sends one Pod review and returns the response.
fn review(server: &LandedServer, namespace: &str, image: &str) -> Result<Value> {
    let pod = PodReview::new(namespace)?.container("app", image);
    let (status, body) = server.post("/validate", &pod.to_json())?;
    if status != 200 {
        bail!("POST /validate answered {status}: {body}");
    }
    Ok(body["response"].clone())
}

fn wait_until<T>(limit: Duration, mut f: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    let started = Instant::now();
    loop {
        if let Some(value) = f()? {
            return Ok(value);
        }
        if started.elapsed() > limit {
            bail!("not within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rules_file() -> PathBuf {
    Path::new(CHART).join("rules/landed.rules.yaml")
}

#[test]
fn every_dashboard_query_and_alert_returns_series_on_a_real_prometheus() -> Result<()> {
    let started = Instant::now();
    let mut tokens = token_registry("ci", "metrics-pw-1", "metrics-pw-1")?;
    let pushed = tokens.registry.push_image("team/app", "v1")?;
    let unreachable = format!("127.0.0.1:{}", free_port()?);
    let kube = FakeKubeApi::start()?;
    let kubeconfig = kube.write_kubeconfig(tokens.landed.home(), "shop")?;
    tokens
        .landed
        .set_env("KUBECONFIG", kubeconfig.display().to_string());

    // landed.yaml as the chart renders it in spirit: a webhook timeout, the core policy, one
    // policy whose file is missing (not loaded, failurePolicy Ignore) and an audit namespace.
    let ca = Ca::new("landed-e2e monitoring CA")?;
    let serving = ca.server_cert(&SERVING_NAMES)?;
    let home = tokens.landed.home().to_path_buf();
    std::fs::write(home.join("webhook.pem"), &serving.cert_pem)?;
    std::fs::write(home.join("webhook-key.pem"), &serving.key_pem)?;
    let ca_file = ca.write_cert(&home.join("webhook-ca.pem"))?;
    let config = LandedConfig {
        registries: vec![
            RegistryEntry::for_registry(&tokens.registry),
            RegistryEntry::for_endpoint(&unreachable, &format!("http://{unreachable}")),
        ],
        webhook_timeout: Some(Duration::from_secs(7)),
        tls_cert_file: Some(home.join("webhook.pem")),
        tls_key_file: Some(home.join("webhook-key.pem")),
        policies: vec![
            PolicyEntry::builtin("require-landed"),
            PolicyEntry::file("custom-rule", home.join("missing.wasm")).failure_policy("Ignore"),
        ],
        extra_yaml: "namespaces:\n  \"staging\":\n    mode: audit\n".to_owned(),
        ..LandedConfig::default()
    };
    let server = LandedServer::launch(&mut tokens.landed, &config, &ca)?;

    let prometheus = Prometheus::start(
        &ScrapeTarget {
            job: JOB.to_owned(),
            address: format!("127.0.0.1:{}", server.port()),
            ca_file,
            server_name: "localhost".to_owned(),
            labels: vec![("namespace".to_owned(), NAMESPACE.to_owned())],
        },
        &[rules_file()],
    )?;
    // The first scrape over TLS, verified with the webhook's CA.
    prometheus.wait_for(r#"up{job="landed"} == 1"#, Duration::from_secs(10))?;

    let landed = pushed.by_tag();
    for _ in 0..2 {
        // Twice: the second lookup is a cache hit.
        let answer = review(&server, "shop", &landed)?;
        assert_eq!(answer["allowed"], true, "{answer}");
    }
    let absent = format!("{}/team/app:never-pushed", tokens.registry.host());
    let answer = review(&server, "shop", &absent)?;
    assert_eq!(answer["allowed"], false, "{answer}");
    let answer = review(&server, "shop", &format!("{unreachable}/team/app:v1"))?;
    assert_eq!(
        answer["allowed"], true,
        "undetermined is allowed with a warning: {answer}"
    );
    let answer = review(&server, "staging", &absent)?;
    assert_eq!(answer["allowed"], true, "audit mode never denies: {answer}");

    // Two scrapes after the last review: every series has samples a rate can use.
    wait_until(Duration::from_secs(15), || {
        let seen = prometheus.query("count_over_time(landed_audit_would_deny_total[1m])")?;
        Ok(seen
            .iter()
            .any(|s| s["value"][1].as_str().is_some_and(|v| v != "1"))
            .then_some(()))
    })
    .context("the audit-mode review never reached Prometheus")?;

    // The alerts: Prometheus loaded the chart's file and evaluated every rule cleanly.
    let file = std::fs::read_to_string(rules_file())?;
    let in_file = file.matches("- alert:").count();
    let rules = wait_until(Duration::from_secs(10), || {
        let rules = prometheus.rules()?;
        let evaluated = rules.iter().all(|r| r["health"] == "ok");
        Ok((evaluated && rules.len() == in_file).then_some(rules))
    })
    .with_context(|| format!("rules not all evaluated: {:?}", prometheus.rules()))?;
    assert!(
        in_file >= 7,
        "the issue names seven alerts, the file has {in_file}"
    );

    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(
        Path::new(CHART).join("dashboards/landed.json"),
    )?)?;
    let vars = resolve_variables(&prometheus, &dashboard)?;
    assert_eq!(vars["namespace"], NAMESPACE);
    assert_eq!(vars["job"], JOB);
    assert_eq!(vars["instance"], format!("127.0.0.1:{}", server.port()));
    let panels = dashboard_queries(&dashboard, &vars)?;
    let alerts = alert_queries(&rules);
    assert!(
        panels.len() >= 15 && alerts.len() == in_file,
        "{panels:?} {alerts:?}"
    );
    let all: Vec<(String, String)> = panels.iter().chain(&alerts).cloned().collect();
    let found = misses(&prometheus, &all);
    assert!(found.is_empty(), "queries without series: {found:#?}");

    // The same check fails on a metric that does not exist, in a panel and in an alert.
    let broken: Vec<(String, String)> = [&panels[0], &alerts[0]]
        .into_iter()
        .map(|(source, query)| {
            (
                source.clone(),
                query.replacen("landed_", "landed_no_such_", 1),
            )
        })
        .collect();
    assert_ne!(broken[0].1, panels[0].1);
    let caught = misses(&prometheus, &broken);
    assert_eq!(caught.len(), 2, "a missing metric must fail: {caught:?}");

    // Values the alerts compare against are the server's own.
    let timeout = prometheus.query(r#"landed_webhook_timeout_seconds{job="landed"}"#)?;
    assert_eq!(timeout[0]["value"][1], "7", "{timeout:?}");
    let left = prometheus.query(r#"landed_tls_certificate_not_after_seconds - time()"#)?;
    let left: f64 = left[0]["value"][1].as_str().unwrap_or("0").parse()?;
    assert!(left > 86_400.0, "the serving certificate has {left} s left");
    // And one alert reaches its threshold for real: the custom policy never loaded.
    let pending = wait_until(Duration::from_secs(10), || {
        let rules = prometheus.rules()?;
        let rule = rules
            .iter()
            .find(|r| r["name"] == "LandedPolicyNotLoaded")
            .cloned();
        Ok(rule.filter(|r| r["state"] == "pending"))
    })?;
    assert_eq!(
        pending["alerts"][0]["labels"]["policy"], "custom-rule",
        "{pending}"
    );

    drop(prometheus);
    server.stop_and_check_logs()?;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    eprintln!(
        "{} panel queries and {} alerts checked in {elapsed:?}",
        panels.len(),
        alerts.len()
    );
    Ok(())
}
