//! AdmissionReview in and out: decoding, the kinds that carry pod specs, image extraction,
//! the pipeline steps and the response.

mod breakglass;
mod decision;
pub mod extract;
mod object;
mod pipeline;
pub mod review;
mod route;

pub use breakglass::{Breakglass, BreakglassConfig, BREAKGLASS_ANNOTATION, DEFAULT_SKIPS};
pub use decision::{Denial, Evaluation, Outcome, WOULD_DENY_ANNOTATION};
pub use object::ReviewObject;
pub use pipeline::Pipeline;
pub use review::{decode, Request, ReviewError};
pub use route::Route;
