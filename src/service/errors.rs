//! The one table from core errors to gRPC status codes.

use tonic::{Code, Status};

use crate::live::LiveError;
use crate::route::RouteError;
use crate::scenario::LoadError;

/// Maps a core error to a status with the reason in words.
pub fn status_of(e: &LiveError) -> Status {
    let code = match e {
        LiveError::Load(LoadError::Io { .. }) => Code::NotFound,
        LiveError::Load(_) => Code::InvalidArgument,
        LiveError::Route(RouteError::UnknownSku { .. } | RouteError::UnknownNode { .. }) => {
            Code::NotFound
        }
        LiveError::Route(_) => Code::InvalidArgument,
        LiveError::Invalid(_) => Code::InvalidArgument,
        LiveError::NotFound(_) => Code::NotFound,
        LiveError::Conflict(_) => Code::Aborted,
        LiveError::Journal(_) => Code::Unavailable,
    };
    Status::new(code, e.to_string())
}

/// Whether a status is a client's mistake (for metrics).
pub fn outcome_label(status: &Status) -> &'static str {
    match status.code() {
        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition => "invalid",
        _ => "error",
    }
}
