//! A registry whose connections break: reset before any answer, or reset in the middle of a
//! manifest body. Written on raw TCP so the breakage happens exactly where it should; the rest
//! is plain HTTP/1.1 as a Distribution registry speaks it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Recorded, Recorder};
use crate::runtime::{block_on, runtime};

/// Where the connection breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breakage {
    /// Every manifest request (HEAD or GET) is read, then the connection is reset without a
    /// byte of answer.
    ResetBeforeResponse,
    /// HEAD answers 200 without `Docker-Content-Digest` (so a client must GET the body, as
    /// some registries make it); GET sends the headers and half the manifest, then resets.
    ResetMidBody,
}

/// The manifest the mid-body fake starts to send: a real OCI image manifest.
const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2cc5a7a5b2d4e1c6bfa3cde2e5c9f6a0c6e2e0b1f4b8f2d3a9e4c1b7d6a5f0e3","size":1024}]}"#;

/// Longest request head read before the fake gives up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// A running broken registry; stops on drop.
pub struct BrokenRegistry {
    addr: SocketAddr,
    recorder: Recorder,
    task: JoinHandle<()>,
}

impl BrokenRegistry {
    /// Starts one that breaks as `breakage` says.
    pub fn start(breakage: Breakage) -> Result<Self> {
        let listener = block_on(TcpListener::bind("127.0.0.1:0"))
            .context("binding a loopback port for the broken registry")?;
        let addr = listener.local_addr()?;
        let recorder = Recorder::default();
        let task = runtime().spawn(accept_loop(listener, breakage, recorder.clone()));
        Ok(Self {
            addr,
            recorder,
            task,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far (method and path).
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorder.all()
    }

    /// Manifest requests with `method` so far.
    pub fn manifest_requests(&self, method: &str) -> usize {
        self.recorder
            .count_where(|r| r.method == method && r.path.contains("/manifests/"))
    }
}

impl Drop for BrokenRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, breakage: Breakage, recorder: Recorder) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_connection(stream, breakage, recorder.clone()));
    }
}

/// Answers requests on one keep-alive connection until it breaks it or the client leaves.
async fn serve_connection(mut stream: TcpStream, breakage: Breakage, recorder: Recorder) {
    let mut pending = Vec::new();
    while let Some((method, path)) = read_request_head(&mut stream, &mut pending).await {
        recorder.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: String::new(),
            authorization: None,
            body: String::new(),
        });
        let answered = if !path.contains("/manifests/") {
            write_api_base(&mut stream, &method).await
        } else {
            match (breakage, method.as_str()) {
                (Breakage::ResetBeforeResponse, _) => false,
                (Breakage::ResetMidBody, "HEAD") => write_head_without_digest(&mut stream).await,
                (Breakage::ResetMidBody, _) => {
                    write_half_manifest(&mut stream).await;
                    false
                }
            }
        };
        if !answered {
            reset(stream);
            return;
        }
    }
}

/// Reads one request head (requests here have no body); `None` when the client is gone.
async fn read_request_head(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
) -> Option<(String, String)> {
    loop {
        if let Some(end) = find_head_end(pending) {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..end + 4);
            let mut parts = head.lines().next()?.split(' ');
            let method = parts.next()?.to_owned();
            let target = parts.next()?;
            let path = target.split('?').next().unwrap_or(target).to_owned();
            return Some((method, path));
        }
        if pending.len() > MAX_HEAD {
            return None;
        }
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// `GET /v2/` (and anything else that is not a manifest): the registry's API base answer.
async fn write_api_base(stream: &mut TcpStream, method: &str) -> bool {
    let body = if method == "HEAD" { "" } else { "{}" };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
         Docker-Distribution-Api-Version: registry/2.0\r\n\r\n{body}"
    );
    stream.write_all(response.as_bytes()).await.is_ok()
}

async fn write_head_without_digest(stream: &mut TcpStream) -> bool {
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n",
        MANIFEST.len()
    );
    stream.write_all(response.as_bytes()).await.is_ok()
}

/// The headers promise the whole manifest; only half of it follows.
async fn write_half_manifest(stream: &mut TcpStream) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n",
        MANIFEST.len()
    );
    let half = &MANIFEST.as_bytes()[..MANIFEST.len() / 2];
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(half).await;
    let _ = stream.flush().await;
    // Let the client take in the headers and the first bytes before the reset, so the break
    // lands in the body and not in the status line.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Closes with RST instead of FIN: what a crashing registry or a middlebox does.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
