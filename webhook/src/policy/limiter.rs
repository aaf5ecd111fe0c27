//! The memory cap of one instance: all of its linear memories and tables together, not each
//! one separately (a component has several core instances, each with its own memory and
//! tables, so a per-memory cap multiplies by their number).

use wasmtime::{ResourceLimiter, Trap};

use super::engine::PolicyLimits;
use super::PolicyError;

/// What a table element is counted as: one pointer, what wasmtime stores per funcref.
pub const TABLE_ELEMENT_BYTES: usize = 8;

/// Core instances one component may create (a wasip2 guest has a handful).
const MAX_INSTANCES: usize = 32;
/// Tables one component may create.
const MAX_TABLES: usize = 32;
/// Linear memories one component may create.
const MAX_MEMORIES: usize = 4;

/// A growth the limiter refused, for the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Bytes the growth would have added.
    pub asked: usize,
    /// Bytes of memories and tables already held.
    pub in_use: usize,
}

/// What a call the sandbox stopped is reported as, the limit or trap named; both ABIs handle
/// their own host errors and refused memory growth first.
pub fn stopped(policy: String, error: &wasmtime::Error, limits: &PolicyLimits) -> PolicyError {
    if let Some(limit) = error.downcast_ref::<LimitError>() {
        let reason = format!("exceeded a resource limit: {limit}");
        return PolicyError::Failed { policy, reason };
    }
    let reason = match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return PolicyError::Timeout { policy },
        Some(Trap::OutOfFuel) => {
            format!("ran out of fuel ({} units)", limits.fuel.unwrap_or(0))
        }
        Some(Trap::StackOverflow) => "overflowed its stack (recursion too deep)".to_owned(),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("{error:#}"),
    };
    PolicyError::Failed { policy, reason }
}

/// Why the limiter stopped the guest (the trap's cause).
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Memories and tables together would pass the cap.
    #[error("growing by {} bytes would hold {} of at most {limit} bytes (memories and tables together)", .refused.asked, .refused.asked + .refused.in_use)]
    Memory {
        /// The refused growth.
        refused: Refused,
        /// The cap in bytes.
        limit: usize,
    },
    /// One table would pass its element cap.
    #[error("a table of {desired} elements is over the limit of {limit}")]
    TableElements {
        /// Elements asked for.
        desired: usize,
        /// The per-table cap.
        limit: usize,
    },
}

/// Counts every memory and table of a store against one cap; a refused growth traps.
pub struct Limiter {
    max_bytes: usize,
    max_table_elements: usize,
    in_use: usize,
    refused: Option<Refused>,
}

impl Limiter {
    /// A limiter for `limits`, nothing in use yet.
    pub fn new(limits: &PolicyLimits) -> Self {
        Self {
            max_bytes: limits.max_memory_bytes(),
            max_table_elements: limits.max_table_elements as usize,
            in_use: 0,
            refused: None,
        }
    }

    /// The growth that was refused for passing the memory cap, if any.
    pub fn refused(&self) -> Option<Refused> {
        self.refused
    }

    /// Bytes of memories and tables held now.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    fn grow(&mut self, extra: usize) -> wasmtime::Result<bool> {
        match self.in_use.checked_add(extra) {
            Some(total) if total <= self.max_bytes => {
                self.in_use = total;
                Ok(true)
            }
            _ => {
                let refused = Refused {
                    asked: extra,
                    in_use: self.in_use,
                };
                self.refused = Some(refused);
                Err(wasmtime::Error::new(LimitError::Memory {
                    refused,
                    limit: self.max_bytes,
                }))
            }
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Past the memory's own declared maximum: `memory.grow` fails as the guest expects.
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow(desired.saturating_sub(current))
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // Approved by the cap but not possible for the allocator: stop the guest rather than
        // let it run on with an answer it did not plan for.
        Err(error.context("memory growth failed"))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        if desired > self.max_table_elements {
            return Err(wasmtime::Error::new(LimitError::TableElements {
                desired,
                limit: self.max_table_elements,
            }));
        }
        let extra = desired.saturating_sub(current);
        self.grow(extra.saturating_mul(TABLE_ELEMENT_BYTES))
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("table growth failed"))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(mib: u32) -> Limiter {
        Limiter::new(&PolicyLimits {
            max_memory_mib: mib,
            max_table_elements: 1000,
            ..PolicyLimits::default()
        })
    }

    #[test]
    fn memories_count_together() {
        let mut l = limiter(4);
        let three = 3 << 20;
        assert!(matches!(l.memory_growing(0, three, None), Ok(true)));
        // A second memory of 3 MiB is under the cap alone, over it with the first.
        assert!(l.memory_growing(0, three, None).is_err());
        assert_eq!(
            l.refused(),
            Some(Refused {
                asked: three,
                in_use: three
            })
        );
        assert!(matches!(l.memory_growing(three, 4 << 20, None), Ok(true)));
        assert_eq!(l.in_use(), 4 << 20);
    }

    #[test]
    fn tables_count_as_pointers_and_per_table() {
        let mut l = limiter(1);
        assert!(matches!(l.table_growing(0, 1000, None), Ok(true)));
        assert_eq!(l.in_use(), 1000 * TABLE_ELEMENT_BYTES);
        let err = l
            .table_growing(1000, 1001, None)
            .expect_err("per-table cap");
        assert!(err.to_string().contains("over the limit of 1000"), "{err}");
        let left = (1 << 20) - 1000 * TABLE_ELEMENT_BYTES;
        assert!(matches!(l.memory_growing(0, left, None), Ok(true)));
        assert!(l.table_growing(0, 1, None).is_err());
    }

    #[test]
    fn a_declared_maximum_fails_the_grow_without_a_trap() {
        let mut l = limiter(64);
        assert!(matches!(
            l.memory_growing(0, 2 << 16, Some(1 << 16)),
            Ok(false)
        ));
        assert_eq!(l.refused(), None);
    }
}
