//! AdmissionReview in and out: decoding, the kinds that carry pod specs, image extraction,
//! the pipeline steps and the response.

mod answer;
mod breakglass;
mod decision;
pub mod extract;
mod input;
mod object;
mod observe;
mod pipeline;
pub mod review;
mod route;
mod settings;

pub use answer::Answer;
pub use breakglass::{Breakglass, BreakglassConfig, BREAKGLASS_ANNOTATION, DEFAULT_SKIPS};
pub use decision::{Denial, Evaluation, Outcome, WOULD_DENY_ANNOTATION};
pub use input::request_info;
pub use object::ReviewObject;
pub use observe::{ReviewObserver, ReviewRecord};
pub use pipeline::Pipeline;
pub use review::{decode, operation_name, Request, ReviewError};
pub use route::Route;
pub use settings::ReviewSettings;
