//! End-to-end harness for `landed`.
