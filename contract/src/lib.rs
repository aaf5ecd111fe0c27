//! The JSON contract between the landed webhook (the host) and its WebAssembly policies (the
//! guests), written once for both: the host (`webhook/`) and the policy SDK
//! (`policies/sdk`) use these types, so a spelling, a field or a remedy text cannot drift
//! between them. The WIT world (`policies/wit/landed.wit`) carries these documents as JSON
//! text; `policies/README.md` documents them for authors.
//!
//! The rest of the input document (the request, the context) is encoded by each side its own
//! way (the host splices pre-encoded parts; the SDK reads leniently); `golden/` pins that JSON
//! and both sides' tests read it back.

mod image;
mod mode;
mod output;
mod verdict;

pub use image::{ContainerType, Image};
pub use mode::{Mode, OnUndetermined};
pub use output::{Output, PatchOp};
pub use verdict::VerdictClass;
