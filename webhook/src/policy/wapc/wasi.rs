//! The WASI preview1 surface a pure policy (Rust `wasm32-wasip1`, TinyGo) links against,
//! wired by hand: `random_get`, `clock_time_get`, `clock_res_get` and `sched_yield` work;
//! `fd_write` to stdout or stderr goes to landed's log (bounded, the rest dropped; other
//! descriptors answer EBADF); the environment and the arguments are empty, and there are no
//! preopened directories (`fd_prestat_get` answers EBADF); `proc_exit` stops the guest. Every other import (filesystem, sockets, polling, any other module)
//! traps when called, naming itself; a module importing a memory, table or global is refused.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, ExternType, Linker, Module};

use super::protocol::{memory, range, write};
use super::state::{WapcFault, WapcState};

const WASI: &str = "wasi_snapshot_preview1";

// WASI errno values.
const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;

/// Most random bytes one `random_get` fills (seeding a hash map needs 16).
const MAX_RANDOM_BYTES: usize = 1 << 20;
/// Most buffers one `fd_write` may gather.
const MAX_IOVECS: usize = 1024;

fn started() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// Defines the offered WASI functions in `linker`.
pub fn add_to_linker(linker: &mut Linker<WapcState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, WapcState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let len = len as u32 as usize;
            if len > MAX_RANDOM_BYTES {
                return Ok(EINVAL);
            }
            let mut bytes = vec![0u8; len];
            if getrandom::fill(&mut bytes).is_err() {
                return Ok(EINVAL);
            }
            let memory = memory(&mut caller)?;
            write(&mut caller, memory, ptr, &bytes, "random_get")?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, WapcState>, id: i32, _precision: i64, ptr: i32| {
            let nanos = match id {
                0 => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
                1 => started().elapsed().as_nanos(),
                _ => return Ok(EINVAL),
            };
            let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
            let memory = memory(&mut caller)?;
            write(
                &mut caller,
                memory,
                ptr,
                &nanos.to_le_bytes(),
                "clock_time_get",
            )?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_res_get",
        |mut caller: Caller<'_, WapcState>, id: i32, ptr: i32| {
            if !(0..=1).contains(&id) {
                return Ok(EINVAL);
            }
            let memory = memory(&mut caller)?;
            write(
                &mut caller,
                memory,
                ptr,
                &1000u64.to_le_bytes(),
                "clock_res_get",
            )?;
            Ok(SUCCESS)
        },
    )?;
    linker.func_wrap(WASI, "sched_yield", || SUCCESS)?;
    // wasi-libc asks for preopened directories at start-up: there are none (EBADF ends the
    // enumeration), which is how a module learns it has no filesystem without trapping.
    linker.func_wrap(WASI, "fd_prestat_get", |_: i32, _: i32| EBADF)?;
    linker.func_wrap(WASI, "fd_write", fd_write)?;
    for (sizes, values) in [
        ("environ_sizes_get", "environ_get"),
        ("args_sizes_get", "args_get"),
    ] {
        linker.func_wrap(
            WASI,
            sizes,
            |mut caller: Caller<'_, WapcState>, count_ptr: i32, size_ptr: i32| {
                let memory = memory(&mut caller)?;
                write(
                    &mut caller,
                    memory,
                    count_ptr,
                    &0u32.to_le_bytes(),
                    "environ",
                )?;
                write(
                    &mut caller,
                    memory,
                    size_ptr,
                    &0u32.to_le_bytes(),
                    "environ",
                )?;
                Ok(SUCCESS)
            },
        )?;
        linker.func_wrap(WASI, values, |_: i32, _: i32| SUCCESS)?;
    }
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(WapcFault::Exit { code }))
    })?;
    Ok(())
}

/// `fd_write(fd, iovs, iovs_len, nwritten)`: stdout and stderr are logged under the
/// policy's name within the call's log budget; everything is reported written.
fn fd_write(
    mut caller: Caller<'_, WapcState>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> wasmtime::Result<i32> {
    if fd != 1 && fd != 2 {
        return Ok(EBADF);
    }
    let count = iovs_len as u32 as usize;
    if count > MAX_IOVECS {
        return Ok(EINVAL);
    }
    let memory = memory(&mut caller)?;
    let mut text = Vec::new();
    let mut total: u32 = 0;
    {
        let data = memory.data(&caller);
        let table = range(data, iovs, count * 8, "fd_write")?;
        for iovec in table.chunks_exact(8) {
            let field = |at: usize| {
                let bytes: [u8; 4] = iovec[at..at + 4].try_into().unwrap_or_default();
                u32::from_le_bytes(bytes)
            };
            let (ptr, len) = (field(0), field(4) as usize);
            let bytes = range(data, ptr as i32, len, "fd_write")?;
            total = total.saturating_add(len as u32);
            let room = (super::state::LOG_BYTES).saturating_sub(text.len());
            text.extend_from_slice(&bytes[..len.min(room)]);
        }
    }
    let granted = caller.data_mut().log_budget(text.len());
    if granted > 0 {
        let line = String::from_utf8_lossy(&text[..granted]);
        let stream = if fd == 1 { "stdout" } else { "stderr" };
        let policy = &caller.data().policy;
        tracing::info!(policy = %policy, stream, message = %line.trim_end(), "policy log");
    }
    write(
        &mut caller,
        memory,
        nwritten,
        &total.to_le_bytes(),
        "fd_write",
    )?;
    Ok(SUCCESS)
}

/// The WASI functions [`add_to_linker`] defines.
pub const OFFERED: [&str; 11] = [
    "random_get",
    "clock_time_get",
    "clock_res_get",
    "sched_yield",
    "fd_write",
    "environ_sizes_get",
    "environ_get",
    "args_sizes_get",
    "args_get",
    "proc_exit",
    "fd_prestat_get",
];

/// Whether the host defines `module.name`.
fn defined(module: &str, name: &str) -> bool {
    match module {
        WASI => OFFERED.contains(&name),
        "wapc" => super::protocol::IMPORTS.contains(&name),
        _ => false,
    }
}

/// What an unoffered import would have given the guest.
fn why(module: &str, name: &str) -> &'static str {
    match (module, name) {
        (WASI, n) if n.starts_with("path_") || n.starts_with("fd_") => "no filesystem",
        (WASI, n) if n.starts_with("sock_") => "no sockets",
        (WASI, _) => "no other WASI access",
        _ => "not a waPC or WASI import",
    }
}

/// Makes every import of `module` that `linker` does not define a function that traps
/// naming it; an imported memory, table or global cannot be given and is refused.
pub fn trap_the_rest(linker: &mut Linker<WapcState>, module: &Module) -> Result<(), String> {
    for import in module.imports() {
        if defined(import.module(), import.name()) {
            continue;
        }
        let (from, name) = (import.module().to_owned(), import.name().to_owned());
        let ExternType::Func(ty) = import.ty() else {
            return Err(format!(
                "imports `{from}.{name}` (not a function), which landed does not provide"
            ));
        };
        let reason = why(&from, &name);
        let import_name = format!("{from}.{name}");
        linker
            .func_new(&from, &name, ty, move |_, _, _| {
                Err(wasmtime::Error::new(WapcFault::NotOffered {
                    import: import_name.clone(),
                    why: reason,
                }))
            })
            .map_err(|e| format!("cannot define `{from}.{name}`: {e:#}"))?;
    }
    Ok(())
}
