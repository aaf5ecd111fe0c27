//! Write a [landed](https://github.com/landed-dev/landed) admission policy in Rust as one
//! function over typed input:
//!
//! ```ignore
//! use landed_policy_sdk::{Input, Output};
//!
//! fn validate(input: &Input, _settings: &serde_json::Value) -> Output {
//!     if input.images.iter().all(|i| i.reference.contains('@')) {
//!         Output::allow()
//!     } else {
//!         Output::deny("pin every image by digest")
//!     }
//! }
//!
//! landed_policy_sdk::export_policy!(validate);
//! ```
//!
//! Build the lean way, as `landed policy new` sets up in `build.sh`: for
//! `wasm32-unknown-unknown`, linked into a component by rustc's `wasm-component-ld` with
//! `--wasi-adapter=none`, so the component imports nothing and landed can reuse its answers
//! (`cargo build --release --target wasm32-wasip2` works too, with WASI imports that trap).
//! Natively the crate compiles without any WebAssembly glue, so the policy function can be
//! unit-tested with plain `cargo test`.

extern crate self as landed_policy_sdk;

#[cfg(all(target_arch = "wasm32", target_os = "unknown", feature = "allocator"))]
mod heap;
mod types;

use serde::de::DeserializeOwned;

pub use serde_json;
pub use types::{
    ContainerType, Context, Image, Input, Mode, Object, OnUndetermined, Output, PatchOp, Request,
    Resolved, UserInfo, Verdict,
};

/// A policy's settings: parsed from the `settings:` of landed.yaml and checked at load.
pub trait Settings: DeserializeOwned {
    /// Checks values serde cannot (e.g. a non-empty list); the error refuses the load.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Settings for serde_json::Value {}

/// Parses settings; `null` (no `settings:` in config) reads as `{}` so a struct with
/// `#[serde(default)]` gets its defaults.
pub fn parse_settings<S: Settings>(settings: &serde_json::Value) -> Result<S, String> {
    let parsed = match settings {
        serde_json::Value::Null => S::deserialize(serde_json::json!({}))
            .or_else(|_| S::deserialize(serde_json::Value::Null)),
        other => S::deserialize(other),
    }
    .map_err(|e| format!("invalid settings: {e}"))?;
    parsed.check()?;
    Ok(parsed)
}

/// The `validate-settings` export: settings JSON text in, load verdict out.
pub fn run_validate_settings<S: Settings>(settings: &str) -> Result<(), String> {
    let value: serde_json::Value = if settings.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(settings).map_err(|e| format!("settings are not JSON: {e}"))?
    };
    parse_settings::<S>(&value).map(|_| ())
}

/// The `validate` export: input JSON text in, output JSON text out.
///
/// When the input or settings cannot be read the answer is `{"error": "..."}`, which the
/// host treats as a policy failure (its `failurePolicy` applies) rather than a decision.
pub fn run_validate<S: Settings>(input: &str, validate: fn(&Input, &S) -> Output) -> String {
    let answer = serde_json::from_str::<Input>(input)
        .map_err(|e| format!("cannot read the policy input: {e}"))
        .and_then(|input| {
            let settings = parse_settings::<S>(&input.settings)?;
            Ok(validate(&input, &settings))
        });
    match answer {
        Ok(output) => serde_json::to_string(&output)
            .unwrap_or_else(|e| error_json(&format!("cannot write the output: {e}"))),
        Err(error) => error_json(&error),
    }
}

fn error_json(error: &str) -> String {
    serde_json::json!({ "error": error }).to_string()
}

/// Asks the host for the verdict of any image reference (same resolver, cache and
/// deadline as the webhook). Only available inside the host; natively it is an error.
pub fn resolve_image(reference: &str) -> Result<Resolved, String> {
    #[cfg(target_arch = "wasm32")]
    {
        let json = bindings::landed::policy::host::resolve_image(reference);
        serde_json::from_str(&json).map_err(|e| format!("host answered garbage: {e}"))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Err(format!(
            "resolve-image({reference}) is only available when running inside the landed host"
        ))
    }
}

/// The generated component bindings (WebAssembly builds only).
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "__export_landed_guest",
        default_bindings_module: "landed_policy_sdk::bindings",
        runtime_path: "landed_policy_sdk::wit_bindgen::rt",
    });
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use wit_bindgen;

/// Exports `fn(&Input, &Settings) -> Output` as the policy component.
///
/// `export_policy!(validate)` takes settings as `serde_json::Value`;
/// `export_policy!(validate, MySettings)` parses them into a type implementing
/// [`Settings`] (checked at load by `validate-settings`). Natively this expands to nothing.
#[macro_export]
macro_rules! export_policy {
    ($validate:path) => {
        $crate::export_policy!($validate, $crate::serde_json::Value);
    };
    ($validate:path, $settings:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct LandedPolicy;
            impl $crate::bindings::Guest for LandedPolicy {
                fn validate(input: String) -> String {
                    $crate::run_validate::<$settings>(&input, $validate)
                }
                fn validate_settings(settings: String) -> Result<(), String> {
                    $crate::run_validate_settings::<$settings>(&settings)
                }
            }
    $crate::bindings::__export_landed_guest!(LandedPolicy with_types_in $crate::bindings);
        };
    };
}

#[cfg(test)]
mod tests;
