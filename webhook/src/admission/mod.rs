//! AdmissionReview in and out: decoding, the kinds that carry pod specs, image extraction,
//! the pipeline steps and the response.

mod breakglass;
mod decision;
pub mod extract;
pub mod kinds;
mod object;
mod pipeline;
pub mod review;

pub use breakglass::{Breakglass, BreakglassConfig, BREAKGLASS_ANNOTATION, DEFAULT_SKIPS};
pub use decision::{Denial, Evaluation, Outcome, WOULD_DENY_ANNOTATION};
pub use kinds::WorkloadKind;
pub use object::ReviewObject;
pub use pipeline::{Endpoint, Pipeline};
pub use review::{decode, Request, ReviewError};
