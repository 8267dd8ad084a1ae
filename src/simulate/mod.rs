//! Network simulation for planners: what-if variants of a network (change files), and replays of
//! order history against them with the KPIs a planner compares.

mod breakdown;
mod causes;
mod changes;
mod charts;
mod exceptions;
mod marks;
mod replay;
mod report;
mod study;

pub use breakdown::pickup_note;
pub use causes::{CAUSES, CauseTally, ClosedPickups, PickupRule, classify, redirect_pickups};
pub use changes::{ChangeError, Variant};
pub use exceptions::{ExceptionKpis, Rejections};
pub use replay::{
    Daily, Kpis, Replay, ReplayError, ReplayPolicy, Replayed, ServiceKpis, Transit, Utilisation,
    measure, replay, replay_order,
};
pub use report::{About, html};
pub use study::{Network, Study, StudyError, StudyRunError};
