//! Attacks by someone who can only create Pods: naming internal services, the metadata
//! server, or a registry that sends landed elsewhere, as the image's registry. landed must
//! connect to none of them and tell the client nothing about the network.

use landed_e2e::fakes::hostile::{HostileRegistry, Hostility, TcpService};
use landed_e2e::fakes::{HttpFake, Recorder};
use landed_e2e::pki::Ca;
use landed_e2e::review::PodReview;
use landed_e2e::server::LandedServer;
use landed_e2e::{Landed, LandedConfig};
use serde_json::Value;

/// Words of transport detail a client must never read: they tell a closed port from a
/// filtered one, a plain-TCP service from a TLS one, and name certificates.
const TRANSPORT_WORDS: [&str; 10] = [
    "refused",
    "os error",
    "corrupt",
    "InvalidContentType",
    "certificate",
    "dns error",
    "tcp connect",
    "-ERR",
    "handshake",
    "127.0.0.1 (",
];

fn warnings(body: &Value) -> Vec<String> {
    body["response"]["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_no_transport_detail(text: &str) {
    for word in TRANSPORT_WORDS {
        assert!(!text.contains(word), "{word:?} reaches the client: {text}");
    }
}

/// An HTTP service on loopback that records every request (an internal API).
fn http_service() -> (HttpFake, Recorder) {
    let recorder = Recorder::default();
    let seen = recorder.clone();
    let fake = HttpFake::start(move |_| {
        axum::Router::new().fallback(move |request: axum::extract::Request| {
            let seen = seen.clone();
            async move {
                seen.push(landed_e2e::fakes::record(request).await);
                "internal"
            }
        })
    })
    .expect("http service");
    (fake, recorder)
}

#[test]
fn pod_naming_internal_services_and_the_metadata_server_makes_landed_contact_none_of_them() {
    let redis = TcpService::start("127.0.0.1").expect("tcp service");
    let redis6 = TcpService::start("::1").expect("tcp service on ::1");
    let (api, api_seen) = http_service();
    let images = [
        format!("{}/cache/redis:7", redis.host()),
        format!("localhost:{}/internal/api:1", api.addr().port()),
        format!("{}/cache/redis:7", redis6.host()),
        "169.254.169.254/latest/meta-data:1".to_owned(),
        "10.0.0.7:6379/x:1".to_owned(),
        "kubernetes.default.svc/x:1".to_owned(),
    ];
    let mut landed = Landed::new().expect("landed");
    let config = LandedConfig {
        namespace_on_undetermined: vec![("pay".to_owned(), "deny".to_owned())],
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");

    let mut review = PodReview::new("shop").expect("fixture");
    for (i, image) in images.iter().enumerate() {
        review = review.container(&format!("c{i}"), image);
    }
    let (status, body) = server.post("/validate", &review.to_json()).expect("POST");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["response"]["allowed"], true,
        "undetermined is allowed by default"
    );
    let warnings = warnings(&body);
    assert_eq!(warnings.len(), images.len(), "{warnings:#?}");
    for warning in &warnings {
        assert!(
            warning.contains("is unavailable: not contacted"),
            "{warning}"
        );
        assert!(
            warning.contains("list the registry under registries:"),
            "{warning}"
        );
        assert_no_transport_detail(warning);
    }

    // Fail-closed namespaces deny, with the same short reason.
    let mut strict = PodReview::new("pay").expect("fixture");
    for (i, image) in images.iter().enumerate() {
        strict = strict.container(&format!("c{i}"), image);
    }
    let (_, body) = server.post("/validate", &strict.to_json()).expect("POST");
    assert_eq!(body["response"]["allowed"], false, "{body}");
    let message = body["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("not contacted"), "{message}");
    assert_no_transport_detail(message);

    assert_eq!(redis.connections(), 0, "the TCP service saw landed");
    assert_eq!(redis6.connections(), 0, "the TCP service on ::1 saw landed");
    assert_eq!(api_seen.count(), 0, "the HTTP service saw landed");
    // The operator's log says why, for each.
    let log = server
        .stop_and_check_logs()
        .expect("no credentials in logs");
    assert!(log.contains("a loopback address"), "{log}");
    assert!(log.contains("a link-local address"), "{log}");
    assert!(log.contains("a private (RFC 1918) address"), "{log}");
}

#[test]
fn landed_review_predicts_serve_and_landed_check_contacts_only_what_its_config_allows() {
    let redis = TcpService::start("127.0.0.1").expect("tcp service");
    let image = format!("{}/cache/redis:7", redis.host());
    let mut landed = Landed::new().expect("landed");
    landed.set_config(&LandedConfig::default()).expect("config");
    let review = PodReview::new("shop")
        .expect("fixture")
        .container("cache", &image);
    let run = landed.review(&review.to_json()).expect("landed review");
    let response = run.response().expect("response");
    let text = response["warnings"].to_string();
    assert!(text.contains("not contacted"), "{text}");
    assert_no_transport_detail(&text);
    assert_eq!(
        redis.connections(),
        0,
        "landed review contacted the service"
    );

    // `landed check` is the operator's own question: it connects (and fails, plainly).
    let check = landed.check(&[&image]).expect("landed check");
    assert_eq!(check.output.code, Some(3), "{}", check.output.describe());
    assert!(redis.connections() >= 1, "landed check did not ask");

    let before = redis.connections();
    landed
        .set_config(&LandedConfig {
            deny_unlisted: Some(true),
            ..LandedConfig::default()
        })
        .expect("config");
    let check = landed.check(&[&image]).expect("landed check");
    assert_eq!(check.output.code, Some(3), "{}", check.output.describe());
    assert!(
        check.output.stdout.contains("not contacted"),
        "{}",
        check.output.describe()
    );
    assert_eq!(redis.connections(), before, "denyUnlisted still connected");
}

#[test]
fn service_that_is_not_a_registry_on_an_allowed_host_shows_the_client_no_transport_detail() {
    // `localhost` allowed stands in for a public host an attacker runs a non-registry on.
    let redis = TcpService::start("127.0.0.1").expect("tcp service");
    let mut landed = Landed::new().expect("landed");
    let config = LandedConfig {
        allow_private_hosts: vec!["localhost".to_owned()],
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");
    let review = PodReview::new("shop").expect("fixture").container(
        "cache",
        &format!("localhost:{}/cache/redis:7", redis.port()),
    );
    let (_, body) = server.post("/validate", &review.to_json()).expect("POST");
    let warnings = warnings(&body);
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0].contains("is unavailable: connection failed"),
        "{warnings:?}"
    );
    assert_no_transport_detail(&warnings[0]);
    assert!(redis.connections() >= 1, "the allowed host was not asked");
    let log = server.stop_and_check_logs().expect("logs");
    assert!(
        log.contains("image not verified"),
        "the operator gets the cause: {log}"
    );
}

/// A registry on `localhost` over HTTPS from the test CA, which landed trusts through
/// `SSL_CERT_FILE` and may contact through `allowPrivateHosts` (a stand-in for a public
/// registry the attacker runs).
fn hostile_setup(hostility: Hostility) -> (Landed, LandedServer, HostileRegistry) {
    let ca = Ca::new("attacker CA").expect("ca");
    let cert = ca.server_cert(&["localhost"]).expect("cert");
    let registry = HostileRegistry::start(&cert, hostility).expect("hostile registry");
    let mut landed = Landed::new().expect("landed");
    let roots = ca
        .write_cert(&landed.home().join("roots.pem"))
        .expect("roots");
    landed.set_env("SSL_CERT_FILE", roots.display().to_string());
    let config = LandedConfig {
        allow_private_hosts: vec!["localhost".to_owned()],
        ..LandedConfig::default()
    };
    let server = LandedServer::start(&mut landed, &config).expect("landed serve");
    (landed, server, registry)
}

fn review_of(registry: &HostileRegistry) -> Value {
    PodReview::new("shop")
        .expect("fixture")
        .container("app", &format!("localhost:{}/team/app:1", registry.port()))
        .to_json()
}

#[test]
fn registry_redirecting_its_manifest_to_an_internal_address_is_not_followed() {
    let internal = TcpService::start("127.0.0.1").expect("tcp service");
    for target in [
        format!(
            "http://127.0.0.1:{}/v2/team/app/manifests/1",
            internal.port()
        ),
        format!(
            "https://127.0.0.1:{}/v2/team/app/manifests/1",
            internal.port()
        ),
        format!("https://[::ffff:127.0.0.1]:{}/x", internal.port()),
    ] {
        let (_landed, server, registry) = hostile_setup(Hostility::Redirect(target.clone()));
        let (_, body) = server
            .post("/validate", &review_of(&registry))
            .expect("POST");
        let warnings = warnings(&body);
        assert_eq!(warnings.len(), 1, "{target}: {body}");
        assert!(
            warnings[0].contains("not contacted"),
            "{target}: {warnings:?}"
        );
        assert_no_transport_detail(&warnings[0]);
        assert!(
            registry.manifest_requests() >= 1,
            "{target}: registry not asked"
        );
        assert_eq!(internal.connections(), 0, "{target} was contacted");
    }
}

#[test]
fn token_realm_hiding_an_internal_host_behind_userinfo_is_not_contacted() {
    let internal = TcpService::start("127.0.0.2").expect("tcp service on 127.0.0.2");
    for realm in [
        format!("http://localhost:80@127.0.0.2:{}/token", internal.port()),
        format!("https://localhost:80@127.0.0.2:{}/token", internal.port()),
        format!("https://127.0.0.2:{}/token", internal.port()),
    ] {
        let (_landed, server, registry) = hostile_setup(Hostility::Realm(realm.clone()));
        let (_, body) = server
            .post("/validate", &review_of(&registry))
            .expect("POST");
        let warnings = warnings(&body);
        assert_eq!(warnings.len(), 1, "{realm}: {body}");
        assert!(
            warnings[0].contains("not contacted"),
            "{realm}: {warnings:?}"
        );
        assert_no_transport_detail(&warnings[0]);
        assert!(
            registry.manifest_requests() >= 1,
            "{realm}: registry not asked"
        );
        assert_eq!(internal.connections(), 0, "{realm} was contacted");
    }
}
