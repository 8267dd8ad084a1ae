//! The one table from core errors to gRPC status codes.

use tonic::{Code, Status};

use crate::batch::BatchError;
use crate::live::{ChangeProblem, LiveError};
use crate::route::RouteError;
use crate::scenario::LoadError;

/// The status code of a core error.
pub fn code_of(e: &LiveError) -> Code {
    match e {
        LiveError::Load(LoadError::Io { .. }) => Code::NotFound,
        LiveError::Load(_) => Code::InvalidArgument,
        LiveError::Route(RouteError::Cancelled)
        | LiveError::Batch(BatchError::Route(RouteError::Cancelled)) => Code::Cancelled,
        LiveError::Route(RouteError::UnknownSku { .. } | RouteError::UnknownNode { .. }) => {
            Code::NotFound
        }
        LiveError::Route(_) => Code::InvalidArgument,
        LiveError::Build(_)
        | LiveError::EmptyNetwork
        | LiveError::InvalidNode { .. }
        | LiveError::InvalidSku { .. }
        | LiveError::InvalidSetting { .. }
        | LiveError::DuplicateOrder { .. }
        | LiveError::Batch(_) => Code::InvalidArgument,
        LiveError::InvalidChange { problem, .. } => match problem {
            ChangeProblem::UnknownNode(_) | ChangeProblem::UnknownSku(_) => Code::NotFound,
            ChangeProblem::NeedsOneOf | ChangeProblem::Overflow { .. } => Code::InvalidArgument,
        },
        LiveError::UnknownReservation { .. } => Code::NotFound,
        LiveError::ReservationEnded { .. }
        | LiveError::NotReroutable { .. }
        | LiveError::LookaheadOff => Code::FailedPrecondition,
        LiveError::InvalidReroute { .. } => Code::InvalidArgument,
        LiveError::RequestReused { .. } => Code::AlreadyExists,
        LiveError::OrderHeld { .. } => Code::AlreadyExists,
        LiveError::DeadlinePassed { .. } => Code::DeadlineExceeded,
        LiveError::PlanTaken { .. } | LiveError::NetworkChanged { .. } => Code::Aborted,
        LiveError::DecisionDoesNotFit { .. } => Code::Internal,
        LiveError::Store(_) | LiveError::Unavailable { .. } => Code::Unavailable,
    }
}

/// Maps a core error to a status with the reason in words. A load error is said redacted
/// (file, line, column and rule, never a value of the file): the one redaction of every
/// answer that concerns a file.
pub fn status_of(e: &LiveError) -> Status {
    match e {
        LiveError::Load(l) => Status::new(code_of(e), l.redacted()),
        other => Status::new(code_of(other), other.to_string()),
    }
}

/// A message of a client stream that is not valid protobuf: the caller's error
/// (INVALID_ARGUMENT), where tonic says INTERNAL.
pub fn undecodable_is_invalid(status: Status) -> Status {
    if status.code() == Code::Internal
        && status
            .message()
            .starts_with("failed to decode Protobuf message")
    {
        Status::invalid_argument(status.message())
    } else {
        status
    }
}
