//! Google Artifact Registry: ADC from a service-account key, `oauth2accesstoken` Basic auth.

use landed_e2e::fakes::form_values;
use landed_e2e::fakes::google_oauth::JWT_BEARER_GRANT;
use landed_e2e::gar::{Gar, GAR_HOST};
use landed_e2e::scenario::{EXIT_ABSENT, EXIT_LANDED, EXIT_UNDETERMINED};

const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

#[test]
fn gar_image_is_landed_with_a_service_account_key_and_one_token() {
    let gar = Gar::start(3600).expect("gar");
    let v1 = gar.push("images/app", "v1").expect("push");
    let v2 = gar.push("images/app", "v2").expect("push");
    let other = gar.push("images/other", "v1").expect("push");

    let run = gar
        .landed
        .check(&[&v1.by_tag(), &v2.by_digest(), &other.by_tag()])
        .expect("run");
    assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    let result = run.result_for(&v1.by_tag()).expect("result");
    assert_eq!(result.verdict, "landed", "{:?}", result.raw);
    assert_eq!(result.digest.as_deref(), Some(v1.digest.as_str()));

    assert_eq!(
        gar.oauth.request_count(),
        1,
        "one Google token serves every lookup while it is valid"
    );
    let request = &gar.oauth.requests()[0];
    assert_eq!(
        form_values(&request.body, "grant_type"),
        vec![JWT_BEARER_GRANT.to_owned()],
        "grant body: {}",
        request.body
    );
    let claims = &gar.oauth.grant_claims()[0];
    assert!(
        claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .any(|s| s == CLOUD_PLATFORM),
        "scope: {claims}"
    );
    assert_eq!(claims["aud"], gar.oauth.token_uri().as_str());
}

#[test]
fn gar_partial_push_is_absent() {
    let gar = Gar::start(3600).expect("gar");
    let partial = gar
        .registry
        .push_partial("landed-e2e-project/images/app", "v2")
        .expect("partial")
        .with_host(GAR_HOST);

    let run = gar.landed.check(&[&partial.by_tag()]).expect("run");
    assert_eq!(run.code(), Some(EXIT_ABSENT), "{}", run.output.describe());
    run.assert_single_verdict("absent");
}

#[test]
fn gar_short_lived_tokens_keep_working() {
    // expires_in below any sensible refresh margin: each fetch is already due for renewal.
    let gar = Gar::start(5).expect("gar");
    let v1 = gar.push("images/app", "v1").expect("push");
    let v2 = gar.push("images/app", "v2").expect("push");

    for image in [&v1, &v2] {
        let run = gar.landed.check(&[&image.by_tag()]).expect("run");
        assert_eq!(run.code(), Some(EXIT_LANDED), "{}", run.output.describe());
    }
    assert!(gar.oauth.request_count() >= 2);
}

#[test]
fn gar_without_credentials_is_unauthorized_never_absent() {
    let mut gar = Gar::start(3600).expect("gar");
    gar.landed.remove_env("GOOGLE_APPLICATION_CREDENTIALS");
    // gcp_auth's last provider is the gcloud CLI, installed on some machines: on PATH it would
    // answer for the machine's own account (or, slowly, fail past the deadline).
    let empty_bin = gar.landed.home().join("empty-bin");
    std::fs::create_dir_all(&empty_bin).expect("empty bin dir");
    gar.landed.set_env("PATH", empty_bin.display().to_string());
    let image = gar.push("images/app", "v1").expect("push");
    let missing = format!("{GAR_HOST}/landed-e2e-project/images/app:never-pushed");

    let run = gar.landed.check(&[&image.by_tag(), &missing]).expect("run");
    assert_eq!(
        run.code(),
        Some(EXIT_UNDETERMINED),
        "{}",
        run.output.describe()
    );
    for reference in [image.by_tag(), missing] {
        let result = run.result_for(&reference).expect("result");
        assert_eq!(
            result.verdict, "unauthorized",
            "{reference}: {:?}",
            result.raw
        );
    }
    assert_eq!(gar.oauth.request_count(), 0);
}
