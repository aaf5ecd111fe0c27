//! The real `landed` binary: `serve --dev` from nothing, SIGTERM, `review`, and a bad config.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_landed");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reviews");

/// A `landed` child process with a pinned environment, killed on drop.
struct Landed(Child);

impl Drop for Landed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn landed(args: &[&str], home: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("LANDED_LOG_FORMAT", "text")
        .env("LANDED_POLICY_DIR", policy_dir());
    cmd
}

fn policy_dir() -> String {
    format!(
        "{}/../policies/target/components",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Reads stderr lines until the CA path and the listening address have been printed.
fn dev_endpoints(child: &mut Child) -> (String, String, mpsc::Receiver<String>) {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut ca, mut url) = (None, None);
    while ca.is_none() || url.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("landed serve --dev prints its CA and address");
        if let Some(path) = line.trim().strip_prefix("CA:") {
            ca = Some(path.trim().to_owned());
        }
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = Some(rest.trim().to_owned());
        }
    }
    (ca.expect("ca"), url.expect("url"), rx)
}

#[test]
fn serve_dev_answers_a_pod_review_over_https_and_stops_on_sigterm() {
    let home = tempfile::tempdir().expect("home");
    let mut child = landed(&["serve", "--dev", "--listen", "127.0.0.1:0"], home.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn landed");
    let (ca, url, _lines) = dev_endpoints(&mut child);
    let child = Landed(child);

    // curl is what the README tells a newcomer to use; it trusts only the printed CA.
    let out = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--cacert",
            &ca,
            "-H",
            "Content-Type: application/json",
        ])
        .arg("--data-binary")
        .arg(format!("@{CORPUS}/pod-create.json"))
        .arg(format!("{url}/validate"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        review["response"]["uid"],
        "00000000-0000-4000-8000-000000000001"
    );
    // registry.example.com cannot be reached from here: undetermined, so allowed with warnings.
    assert_eq!(review["response"]["allowed"], true, "{review}");
    let warnings = review["response"]["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("unavailable")),
        "{warnings:?}"
    );

    let pid = child.0.id().to_string();
    let mut child = child;
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            assert!(status.success(), "exit after SIGTERM: {status}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "landed did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn review_prints_the_response_and_exits_by_decision() {
    let home = tempfile::tempdir().expect("home");
    let out = landed(
        &["review", &format!("{CORPUS}/configmap-create.json")],
        home.path(),
    )
    .output()
    .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the review");
    assert_eq!(
        review["response"]["uid"],
        "00000000-0000-4000-8000-000000000501"
    );
    assert_eq!(review["response"]["allowed"], true);

    let out = landed(
        &["review", &format!("{CORPUS}/pod-create-invalid-image.json")],
        home.path(),
    )
    .output()
    .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "denied: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let message = review["response"]["status"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("container \"app\""), "{message}");
    assert!(message.contains("invalid_reference"), "{message}");
}

#[test]
fn review_reads_standard_input_and_rejects_a_wrong_version() {
    use std::io::Write;
    let home = tempfile::tempdir().expect("home");
    let body = std::fs::read_to_string(format!("{CORPUS}/pod-delete.json"))
        .expect("fixture")
        .replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1");
    let mut child = landed(&["review", "-"], home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("admission.k8s.io/v1beta1"), "{stderr}");
}

#[test]
fn a_bad_config_refuses_to_start_naming_the_line() {
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("landed.yaml");
    std::fs::write(
        &config,
        "mode: audit\nnamespaces:\n  staging:\n    mood: warn\n",
    )
    .expect("write");
    let out = landed(
        &["serve", "--dev", "--config", config.to_str().expect("utf8")],
        home.path(),
    )
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mood") && stderr.contains("line 4"),
        "{stderr}"
    );
}
