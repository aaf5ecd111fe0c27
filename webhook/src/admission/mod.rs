//! AdmissionReview in and out. (being written)
