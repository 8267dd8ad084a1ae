//! Network simulation for planners: what-if variants of a network (change files), and replays of
//! order history against them with the KPIs a planner compares.

mod changes;
mod exceptions;
mod replay;
mod report;

pub use changes::{ChangeError, Variant};
pub use exceptions::{ExceptionKpis, Rejections};
pub use replay::{
    Daily, Kpis, ReplayPolicy, Transit, Utilisation, measure, replay, replay_order, replay_with,
    replay_with_receipts,
};
pub use report::html;
