//! `landed policy`: the policy author kit — scaffold, run, test, bench and inspect a
//! WebAssembly policy component with the same host the webhook uses.

mod cases;
mod input;
mod inspect;
mod publish;
mod scaffold;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::types::{ComponentItem, Type};

use crate::mode::OnUndetermined;
use crate::policy::{
    Policy, PolicyEngine, PolicyLimits, PolicyModule, PreparedInput, ResolveAccess, HOST_INTERFACE,
};
use crate::resolve::TableResolver;
use input::InputOptions;

/// Policy subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create a Rust policy crate (SDK, unit test, case file, build script).
    New {
        /// Crate name: lowercase letters, digits, dashes.
        name: String,
        /// Directory to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Depend on the SDK crate at DIR (a checkout's policies/sdk) instead of its
        /// release on crates.io.
        #[arg(long = "sdk-path", alias = "sdk", value_name = "DIR")]
        sdk_path: Option<PathBuf>,
    },
    /// Evaluate one request and print the policy's output JSON.
    Run {
        /// The component (.wasm).
        wasm: PathBuf,
        /// AdmissionReview or PolicyInput JSON.
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// Settings (JSON or YAML).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Run a YAML table of cases; prints PASS/FAIL per case and `N passed, N failed`.
    Test {
        /// The component (.wasm).
        wasm: PathBuf,
        /// The case file.
        #[arg(long, value_name = "FILE")]
        cases: PathBuf,
    },
    /// Measure calls per second and microseconds per call (fresh instance per call).
    Bench {
        /// The component (.wasm).
        wasm: PathBuf,
        /// AdmissionReview or PolicyInput JSON (default: a Pod with three images).
        #[arg(long, value_name = "FILE")]
        request: Option<PathBuf>,
        /// Settings (JSON or YAML).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// How long to measure.
        #[arg(long, default_value = "2s", value_parser = humantime_serde::re::humantime::parse_duration)]
        duration: Duration,
    },
    /// Show a component's exports, imports, size, whether it follows the contract and
    /// whether its answers can be reused.
    Inspect {
        /// The component (.wasm), or an OCI reference (`oci://REGISTRY/REPO:TAG[@sha256:…]`).
        wasm: PathBuf,
        /// Config for pulling an OCI reference (registries, CAs, egress).
        #[command(flatten)]
        config: super::ConfigArg,
    },
    /// Push a policy to an OCI registry as a WebAssembly artifact; prints the digest and the
    /// `oci:` line to paste into landed.yaml.
    Push {
        /// The policy (.wasm: a landed component or a Kubewarden waPC module).
        wasm: PathBuf,
        /// Where to: REGISTRY/REPO:TAG.
        target: String,
        /// Registries, CAs, egress and credentials as for lookups.
        #[command(flatten)]
        config: super::ConfigArg,
    },
    /// Pull a policy from an OCI registry, digest-verified, into a file.
    Pull {
        /// REGISTRY/REPO:TAG, or pinned: REGISTRY/REPO[:TAG]@sha256:… (the pin is verified).
        reference: String,
        /// The file to write.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// Registries, CAs, egress and credentials as for lookups.
        #[command(flatten)]
        config: super::ConfigArg,
    },
}

/// Context flags for `run`.
#[derive(Debug, clap::Args)]
pub struct ContextArgs {
    /// Evaluate as on `/mutate` (patches are applied).
    #[arg(long)]
    mutating: bool,
    /// Deny undetermined verdicts.
    #[arg(long)]
    deny_undetermined: bool,
    /// Verdict of an image of an AdmissionReview: REF=CLASS or REF=landed@sha256:… (repeatable;
    /// unlisted images are assumed landed). Also answers the policy's `resolve-image`.
    #[arg(long = "verdict", value_name = "REF=CLASS")]
    verdicts: Vec<String>,
}

/// Runs a policy subcommand.
pub async fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::New {
            name,
            dir,
            sdk_path,
        } => {
            let root = scaffold::create(&name, &dir, sdk_path.as_deref())?;
            println!("created {}", root.display());
            println!("next: cd {} && cargo test && ./build.sh", root.display());
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Run {
            wasm,
            request,
            settings,
            context,
        } => run_one(&wasm, &request, settings.as_deref(), context).await,
        PolicyCommand::Test { wasm, cases } => {
            let engine = PolicyEngine::new(PolicyLimits::default())?;
            let bytes =
                std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
            let policy = PolicyModule::compile(&engine, &policy_name(&wasm), &bytes, None)
                .with_context(|| format!("cannot load {}", wasm.display()))?;
            let all_passed = cases::run(&policy, &cases).await?;
            Ok(if all_passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PolicyCommand::Bench {
            wasm,
            request,
            settings,
            duration,
        } => bench(&wasm, request.as_deref(), settings.as_deref(), duration).await,
        PolicyCommand::Inspect { wasm, config } => match publish::oci_target(&wasm) {
            Some(reference) => {
                let fetched = publish::fetch(&config, reference).await?;
                inspect_bytes(reference, &fetched.bytes)
            }
            None => inspect(&wasm),
        },
        PolicyCommand::Push {
            wasm,
            target,
            config,
        } => publish::push(&config, &wasm, &target).await,
        PolicyCommand::Pull {
            reference,
            output,
            config,
        } => publish::pull(&config, &reference, &output).await,
    }
}

fn read_settings(path: Option<&Path>) -> anyhow::Result<serde_json::Value> {
    path.map_or(Ok(serde_json::Value::Null), input::read_value)
}

fn policy_name(wasm: &Path) -> String {
    wasm.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("policy")
        .replace('_', "-")
}

fn load(
    engine: &PolicyEngine,
    wasm: &Path,
    settings: Option<&serde_json::Value>,
) -> anyhow::Result<PolicyModule> {
    let name = policy_name(wasm);
    let null = serde_json::Value::Null;
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    PolicyModule::load(engine, &name, &bytes, settings.unwrap_or(&null), None)
        .with_context(|| format!("cannot load {}", wasm.display()))
}

async fn run_one(
    wasm: &Path,
    request: &Path,
    settings: Option<&Path>,
    ctx: ContextArgs,
) -> anyhow::Result<ExitCode> {
    let settings = read_settings(settings)?;
    let mut verdicts = BTreeMap::new();
    for v in &ctx.verdicts {
        let (reference, class) = v
            .split_once('=')
            .with_context(|| format!("--verdict {v:?}: expected REF=CLASS"))?;
        verdicts.insert(reference.to_owned(), class.to_owned());
    }
    let options = InputOptions {
        settings: Some(settings.clone()),
        mutating: Some(ctx.mutating),
        on_undetermined: ctx.deny_undetermined.then_some(OnUndetermined::Deny),
        verdicts: verdicts.clone(),
    };
    let value = input::read_value(request)?;
    let body = input::review_body(&value);
    let (input, lookup) = input::review_input(value, &options)?;
    let mut table = TableResolver::new();
    for image in &input.images {
        if let Some(normalized) = &image.normalized {
            let verdict = crate::verdict::Verdict {
                class: image.verdict,
                digest: image.digest.as_deref().and_then(|d| d.parse().ok()),
                detail: image.detail.clone(),
                cause: None,
                stale: image.stale,
            };
            table = table.with(normalized.clone(), verdict);
        }
    }
    let engine = PolicyEngine::new(PolicyLimits::default())?;
    let policy = load(&engine, wasm, Some(&settings))?.with_resolver(ResolveAccess {
        resolver: Arc::new(table),
        budget: Duration::from_secs(3),
    });
    let mut prepared = PreparedInput::with_lookup(&input, lookup);
    if let Some(body) = &body {
        prepared = prepared.with_review_body(body);
    }
    let output = policy.evaluate(&prepared, &input.settings).await?;
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(ExitCode::SUCCESS)
}

async fn bench(
    wasm: &Path,
    request: Option<&Path>,
    settings: Option<&Path>,
    duration: Duration,
) -> anyhow::Result<ExitCode> {
    let settings = read_settings(settings)?;
    let (mut input, body) = match request {
        Some(path) => {
            let value = input::read_value(path)?;
            let body = input::review_body(&value);
            (input::policy_input(value, &InputOptions::default())?, body)
        }
        None => (input::sample(), None),
    };
    input.settings = settings.clone();
    let engine = PolicyEngine::new(PolicyLimits::default())?;
    let compile = Instant::now();
    let policy = load(&engine, wasm, Some(&settings))?;
    let compile = compile.elapsed();
    let samples = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Duration>> {
        // Encoded once, as in a review; each call splices in the settings.
        let mut prepared = PreparedInput::with_lookup(&input, Default::default());
        if let Some(body) = &body {
            prepared = prepared.with_review_body(body);
        }
        let mut samples = Vec::new();
        let started = Instant::now();
        while started.elapsed() < duration || samples.len() < 10 {
            let call = Instant::now();
            policy.evaluate_blocking(&prepared, &input.settings)?;
            samples.push(call.elapsed());
        }
        Ok(samples)
    })
    .await??;
    let total: Duration = samples.iter().sum();
    let mut sorted = samples.clone();
    sorted.sort();
    let pct = |p: usize| sorted[(sorted.len() - 1) * p / 100].as_secs_f64() * 1e6;
    let mean_us = total.as_secs_f64() * 1e6 / samples.len() as f64;
    println!(
        "compile: {:.1} ms (pooling allocator: {})",
        compile.as_secs_f64() * 1e3,
        engine.is_pooling()
    );
    println!("{} calls in {:.2} s", samples.len(), total.as_secs_f64());
    println!(
        "{:.0} calls/s, {mean_us:.1} µs/call (p50 {:.1} µs, p99 {:.1} µs)",
        1e6 / mean_us,
        pct(50),
        pct(99)
    );
    Ok(ExitCode::SUCCESS)
}

fn type_name(ty: &Type) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U32 => "u32".into(),
        Type::S32 => "s32".into(),
        Type::U64 => "u64".into(),
        Type::S64 => "s64".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => {
            let side = |t: Option<Type>| t.as_ref().map_or("_".to_owned(), type_name);
            format!("result<{}, {}>", side(r.ok()), side(r.err()))
        }
        other => format!("{other:?}"),
    }
}

fn describe(engine: &wasmtime::Engine, item: &ComponentItem) -> String {
    match item {
        ComponentItem::ComponentFunc(f) => {
            let params: Vec<String> = f
                .params()
                .map(|(n, t)| format!("{n}: {}", type_name(&t)))
                .collect();
            let results: Vec<String> = f.results().map(|t| type_name(&t)).collect();
            format!("func({}) -> {}", params.join(", "), results.join(", "))
        }
        ComponentItem::ComponentInstance(i) => {
            let names: Vec<&str> = i.exports(engine).map(|(n, _)| n).collect();
            format!("instance {{{}}}", names.join(", "))
        }
        ComponentItem::CoreFunc(_) => "core func".into(),
        ComponentItem::Module(_) => "core module".into(),
        ComponentItem::Component(_) => "component".into(),
        ComponentItem::Type(_) => "type".into(),
        ComponentItem::Resource(_) => "resource".into(),
    }
}

fn inspect(wasm: &Path) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    inspect_bytes(&wasm.display().to_string(), &bytes)
}

fn inspect_bytes(source: &str, bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let digest: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("file:    {source}");
    println!("size:    {} bytes", bytes.len());
    println!("sha256:  {digest}");
    let engine = PolicyEngine::new(PolicyLimits::default())?;
    if crate::policy::detect_abi(bytes, None)? == crate::policy::Abi::KubewardenWapc {
        return inspect::kubewarden(&engine, bytes);
    }
    println!("abi:     landed (a landed:policy component)");
    let component = engine.compile(bytes)?;
    let ty = component.component_type();
    let wt = engine.wasmtime();
    println!("exports:");
    for (name, item) in ty.exports(wt) {
        println!("  {name}: {}", describe(wt, &item.ty));
    }
    println!("imports:");
    for (name, item) in ty.imports(wt) {
        let note = if name == HOST_INTERFACE {
            "provided by landed"
        } else {
            "traps if called (no WASI is given to policies)"
        };
        println!("  {name}: {} — {note}", describe(wt, &item.ty));
    }
    let imports: Vec<&str> = ty.imports(wt).map(|(name, _)| name).collect();
    println!("reuse:   {}", reuse_note(&imports));
    match crate::policy::WasmPolicy::load(&engine, "inspect", bytes, &serde_json::Value::Null) {
        Ok(_) => println!("contract: ok (landed:policy@0.1.0)"),
        Err(crate::policy::LoadError::Settings(m)) => {
            println!("contract: ok (landed:policy@0.1.0); empty settings refused: {m}")
        }
        Err(e) => {
            println!("contract: NOT OK: {e}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether landed reuses this component's answers for identical input, and why not.
fn reuse_note(imports: &[&str]) -> String {
    match crate::policy::reuse_blocker(imports) {
        None => "qualifies: it imports nothing, so landed reuses its answers for identical \
                 input when its entry reads `input: images` (the built-ins' default)"
            .to_owned(),
        Some(why) => format!(
            "no: {why}; a lean build imports nothing (policies/build.sh, or the scaffold's \
             build.sh)"
        ),
    }
}
