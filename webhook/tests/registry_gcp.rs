//! The GAR path: a `us-docker.pkg.dev` host mapped to a local fake, credentials from a
//! service-account key whose token_uri is a fake OAuth endpoint. One test in its own binary,
//! because it sets process-wide environment variables.

mod registry_support;

use std::process::Command;
use std::time::Duration;

use landed::config::Config;
use landed::image::Reference;
use landed::registry::RegistryConfig;
use landed::resolve::{LookupContext, Resolve, Resolver};
use landed::verdict::VerdictClass;
use registry_support::{Auth, Fake, LogBuffer};

#[tokio::test]
async fn gar_uses_fresh_google_tokens_as_oauth2accesstoken() {
    let logs = LogBuffer::install();
    let fake = Fake::start().await;
    // Registry tokens live 1 s (kept 0.5 s); Google tokens 1 s, which gcp_auth treats as
    // already expired (it keeps a 20 s margin), so every login uses a fresh one.
    *fake.auth.lock().expect("lock") = Auth::Bearer {
        expires_in: 1,
        basic: Some(("oauth2accesstoken".into(), "<oauth>".into())),
    };
    *fake.oauth_expires_in.lock().expect("lock") = 1;
    fake.push_image("proj/repo/img", Some("v1"), "1");
    fake.push_image("proj/repo/img", Some("v2"), "2");

    let dir = tempfile::tempdir().expect("tempdir");
    let key_pem = dir.path().join("key.pem");
    let status = Command::new("/usr/bin/openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key_pem)
        .status()
        .expect("openssl");
    assert!(status.success());
    let pem = std::fs::read_to_string(&key_pem).expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "landed@proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": format!("{}/oauth/token", fake.url()),
    });
    let key_file = dir.path().join("sa.json");
    std::fs::write(&key_file, key.to_string()).expect("write key");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    // Pin every source gcp_auth and docker config could read (gcloud may be installed).
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", &key_file);
    std::env::set_var("HOME", &empty);
    std::env::set_var("PATH", &empty);
    std::env::set_var("DOCKER_CONFIG", &empty);
    std::env::remove_var("KUBECONFIG");

    let config = Config {
        registries: vec![RegistryConfig {
            host: "us-docker.pkg.dev".into(),
            endpoint: Some(fake.url()),
            insecure_http: true,
            // auth left out: gcp is the default for *-docker.pkg.dev.
            ..RegistryConfig::default()
        }],
        ..Config::default()
    };
    let resolver = Resolver::new(&config).expect("resolver");
    let ctx = LookupContext::default();
    let first = Reference::parse("us-docker.pkg.dev/proj/repo/img:v1").expect("ref");
    let v1 = resolver.resolve(&first, &ctx).await;
    assert_eq!(v1.class, VerdictClass::Landed, "{v1:?}");
    assert!(fake.oauths() >= 1);
    assert_eq!(fake.tokens(), 1);

    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = Reference::parse("us-docker.pkg.dev/proj/repo/img:v2").expect("ref");
    let v2 = resolver.resolve(&second, &ctx).await;
    assert_eq!(v2.class, VerdictClass::Landed, "{v2:?}");
    assert_eq!(
        fake.tokens(),
        2,
        "registry token expired and was fetched again"
    );
    assert!(fake.oauths() >= 2, "a fresh Google token was used");
    let users = fake.seen_basic_users.lock().expect("lock").clone();
    assert!(
        !users.is_empty() && users.iter().all(|u| u == "oauth2accesstoken"),
        "{users:?}"
    );

    // Credentials the token server refuses: unauthorized, never absent.
    *fake.auth.lock().expect("lock") = Auth::Bearer {
        expires_in: 1,
        basic: Some(("oauth2accesstoken".into(), "not-what-google-issued".into())),
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    let v3 = resolver.resolve(&first, &ctx).await;
    // v1 is still in the tag cache; a new tag has to ask.
    assert_eq!(v3.class, VerdictClass::Landed, "{v3:?}");
    let third = Reference::parse("us-docker.pkg.dev/proj/repo/img:v3").expect("ref");
    let v3 = resolver.resolve(&third, &ctx).await;
    assert_eq!(v3.class, VerdictClass::Unauthorized, "{v3:?}");

    let text = logs.text() + &format!("{v1:?}{v2:?}{v3:?}");
    assert!(
        !text.contains("ya29.fake-access-token"),
        "a Google token leaked"
    );
    assert!(!text.contains("registry-token-"), "a registry token leaked");
    assert!(!text.contains("BEGIN PRIVATE KEY"), "the key leaked");
}
