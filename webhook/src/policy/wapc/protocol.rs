//! The host side of waPC (as wapc-guest speaks it): the guest asks for its operation and
//! payload with `__guest_request`, answers with `__guest_response` or `__guest_error`, and
//! calls the host with `__host_call`, reading the answer back with `__host_response(_len)`
//! or `__host_error(_len)`. Every pointer and length comes from the guest: each range is
//! checked against its memory before a byte is copied, and lengths are capped first.

use wasmtime::{Caller, Extern, Linker, Memory, Store, TypedFunc};

use super::capabilities;
use super::state::{WapcFault, WapcState};

/// Longest binding, namespace or operation name a host call may pass.
pub const MAX_NAME_BYTES: usize = 256;

/// The `wapc` imports [`add_to_linker`] defines.
pub const IMPORTS: [&str; 9] = [
    "__guest_request",
    "__guest_response",
    "__guest_error",
    "__host_call",
    "__host_response_len",
    "__host_response",
    "__host_error_len",
    "__host_error",
    "__console_log",
];

/// `__guest_call(operation_len, payload_len) -> 1 | 0`.
pub type GuestCall = TypedFunc<(i32, i32), i32>;

/// The guest's linear memory.
pub(super) fn memory(caller: &mut Caller<'_, WapcState>) -> wasmtime::Result<Memory> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmtime::Error::new(WapcFault::NoMemory))
}

/// Copies `len` bytes at `ptr` out of the guest, at most `limit`.
pub(super) fn read(
    caller: &Caller<'_, WapcState>,
    memory: Memory,
    (ptr, len): (i32, i32),
    limit: usize,
    what: &'static str,
) -> wasmtime::Result<Vec<u8>> {
    let len = len as u32 as usize;
    if len > limit {
        let len = len as u64;
        return Err(wasmtime::Error::new(WapcFault::TooLarge {
            what,
            len,
            limit,
        }));
    }
    Ok(range(memory.data(caller), ptr, len, what)?.to_vec())
}

/// The guest's bytes `[ptr, ptr + len)`, or the fault naming `what`.
pub(super) fn range<'m>(
    data: &'m [u8],
    ptr: i32,
    len: usize,
    what: &'static str,
) -> wasmtime::Result<&'m [u8]> {
    let offset = ptr as u32;
    (offset as usize)
        .checked_add(len)
        .and_then(|end| data.get(offset as usize..end))
        .ok_or_else(|| out_of_bounds(what, offset, len))
}

fn out_of_bounds(what: &'static str, offset: u32, len: usize) -> wasmtime::Error {
    wasmtime::Error::new(WapcFault::OutOfBounds {
        what,
        offset,
        len: len as u64,
    })
}

/// Writes `bytes` into the guest at `ptr`.
pub(super) fn write(
    caller: &mut Caller<'_, WapcState>,
    memory: Memory,
    ptr: i32,
    bytes: &[u8],
    what: &'static str,
) -> wasmtime::Result<()> {
    let offset = ptr as u32;
    let target = (offset as usize)
        .checked_add(bytes.len())
        .and_then(|end| memory.data_mut(&mut *caller).get_mut(offset as usize..end))
        .ok_or_else(|| out_of_bounds(what, offset, bytes.len()))?;
    target.copy_from_slice(bytes);
    Ok(())
}

/// A guest answer (`__guest_response`/`__guest_error`), refused uncopied over the cap.
fn answer(
    caller: &mut Caller<'_, WapcState>,
    (ptr, len): (i32, i32),
    what: &'static str,
) -> wasmtime::Result<Vec<u8>> {
    let limit = caller.data().max_output;
    let claimed = len as u32 as usize;
    if claimed > limit {
        let len = claimed as u64;
        return Err(wasmtime::Error::new(WapcFault::OutputTooLarge {
            len,
            limit,
        }));
    }
    let memory = memory(caller)?;
    read(caller, memory, (ptr, len), limit, what)
}

fn len_i32(bytes: &[u8]) -> i32 {
    // Host answers are bounded (manifests by the registry client, errors by text): far
    // below 2 GiB; a longer one would read as negative and the guest would fail.
    i32::try_from(bytes.len()).unwrap_or(i32::MAX)
}

/// Defines the `wapc` imports in `linker`.
pub fn add_to_linker(linker: &mut Linker<WapcState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, WapcState>, op_ptr: i32, ptr: i32| {
            let memory = memory(&mut caller)?;
            let operation = std::mem::take(&mut caller.data_mut().operation);
            let payload = std::mem::take(&mut caller.data_mut().payload);
            write(&mut caller, memory, op_ptr, &operation, "__guest_request")?;
            write(&mut caller, memory, ptr, &payload, "__guest_request")
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, WapcState>, ptr: i32, len: i32| {
            let bytes = answer(&mut caller, (ptr, len), "__guest_response")?;
            caller.data_mut().response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut caller: Caller<'_, WapcState>, ptr: i32, len: i32| {
            let bytes = answer(&mut caller, (ptr, len), "__guest_error")?;
            caller.data_mut().guest_error = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap("wapc", "__host_call", host_call)?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |caller: Caller<'_, WapcState>| len_i32(&caller.data().host_response),
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut caller: Caller<'_, WapcState>, ptr: i32| {
            let memory = memory(&mut caller)?;
            let bytes = std::mem::take(&mut caller.data_mut().host_response);
            let written = write(&mut caller, memory, ptr, &bytes, "__host_response");
            caller.data_mut().host_response = bytes;
            written
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error_len",
        |caller: Caller<'_, WapcState>| len_i32(&caller.data().host_error),
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut caller: Caller<'_, WapcState>, ptr: i32| {
            let memory = memory(&mut caller)?;
            let bytes = std::mem::take(&mut caller.data_mut().host_error);
            let written = write(&mut caller, memory, ptr, &bytes, "__host_error");
            caller.data_mut().host_error = bytes;
            written
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |mut caller: Caller<'_, WapcState>, ptr: i32, len: i32| {
            let memory = memory(&mut caller)?;
            let granted = caller.data_mut().log_budget(len as u32 as usize);
            let text = range(memory.data(&caller), ptr, granted, "__console_log")?;
            let text = String::from_utf8_lossy(text);
            let policy = &caller.data().policy;
            tracing::info!(policy = %policy, stream = "console", message = %text, "policy log");
            Ok(())
        },
    )?;
    Ok(())
}

/// `__host_call(binding, namespace, operation, payload) -> 1 | 0`: the guest's time stops
/// while the host answers; the answer waits in the state for the guest to read back.
#[allow(clippy::too_many_arguments)]
fn host_call(
    mut caller: Caller<'_, WapcState>,
    binding_ptr: i32,
    binding_len: i32,
    ns_ptr: i32,
    ns_len: i32,
    op_ptr: i32,
    op_len: i32,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<i32> {
    let memory = memory(&mut caller)?;
    let limit = caller.data().max_output;
    let binding = read(
        &caller,
        memory,
        (binding_ptr, binding_len),
        MAX_NAME_BYTES,
        "__host_call binding",
    )?;
    let namespace = read(
        &caller,
        memory,
        (ns_ptr, ns_len),
        MAX_NAME_BYTES,
        "__host_call namespace",
    )?;
    let operation = read(
        &caller,
        memory,
        (op_ptr, op_len),
        MAX_NAME_BYTES,
        "__host_call operation",
    )?;
    let payload = read(&caller, memory, (ptr, len), limit, "__host_call payload")?;
    let state = caller.data_mut();
    state.pause()?;
    let call = capabilities::Call {
        binding: &String::from_utf8_lossy(&binding),
        namespace: &String::from_utf8_lossy(&namespace),
        operation: &String::from_utf8_lossy(&operation),
        payload: &payload,
    };
    let answer = capabilities::answer(state, &call)?;
    state.clock.resume();
    Ok(match answer {
        Ok(bytes) => {
            state.host_response = bytes;
            state.host_error.clear();
            1
        }
        Err(text) => {
            state.host_error = text.into_bytes();
            state.host_response.clear();
            0
        }
    })
}

/// What one `__guest_call` gave: the response, or the guest's error text.
pub type GuestAnswer = Result<Vec<u8>, String>;

/// Calls `operation` with `payload` on an instance already started.
pub fn guest_call(
    store: &mut Store<WapcState>,
    func: &GuestCall,
    operation: &str,
    payload: Vec<u8>,
) -> wasmtime::Result<GuestAnswer> {
    let op_len = i32::try_from(operation.len())?;
    let payload_len = i32::try_from(payload.len())?;
    let state = store.data_mut();
    state.operation = operation.as_bytes().to_vec();
    state.payload = payload;
    state.response = None;
    state.guest_error = None;
    let code = func.call(&mut *store, (op_len, payload_len))?;
    let state = store.data_mut();
    Ok(
        match (code, state.response.take(), state.guest_error.take()) {
            (1, Some(response), _) => Ok(response),
            (1, None, _) => Err("reported success without calling __guest_response".into()),
            (_, _, Some(error)) => Err(String::from_utf8_lossy(&error).into_owned()),
            (_, _, None) => Err(format!(
                "failed (returned {code}) without calling __guest_error"
            )),
        },
    )
}
