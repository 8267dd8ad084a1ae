//! Network simulation for planners: what-if variants of a network (this module's first part:
//! the change files and their application).

mod changes;

pub use changes::{ChangeError, Variant};
