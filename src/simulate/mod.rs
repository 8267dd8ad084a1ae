//! Network simulation for planners: what-if variants of a network (change files), and replays of
//! order history against them with the KPIs a planner compares.

mod breakdown;
mod causes;
mod charts;
mod gap;
mod marks;
mod rejections;
mod replay;
mod report;
mod study;
mod variants;

pub use breakdown::pickup_note;
pub use causes::{CAUSES, CauseTally, ClosedPickups, PickupRule, classify, redirect_pickups};
pub use gap::{GapClosed, hindsight_runs, kpis_json};
pub use rejections::{ExceptionKpis, Rejections};
pub use replay::{
    Daily, Kpis, Replay, ReplayError, ReplayPolicy, Replayed, ServiceKpis, Transit, Utilisation,
    measure, replay, replay_order,
};
pub use report::{About, html};
pub use study::{Network, Study, StudyError, StudyRunError};
pub use variants::{ChangeError, Variant};
