//! # fulfil
//!
//! A fulfilment routing optimizer. Given a network of nodes (distribution centres, stores, dropship
//! vendors) holding inventory, carrier rate cards and distance zones, fulfil decides for every order
//! which node ships which line with which carrier, at the least cost as defined by scenario format
//! v1 (`docs/scenario-format.md`): shipping + handling + split penalty + backorder penalty.
//!
//! The crate is layered (see `ARCHITECTURE.md`):
//! - [`model`]: the domain types (ids, nodes, SKUs, rates, orders, decisions, policy);
//! - [`scenario`]: scenario format v1 in and out, validation, and the generator;
//! - [`snapshot`]: the immutable, indexed network that routing reads;
//! - [`route`]: the cost model, the exact per-order search, the baseline, sequential runs.

pub mod batch;
pub mod live;
pub mod model;
pub mod reserve;
pub mod route;
pub mod scenario;
pub mod service;
pub mod simulate;
pub mod snapshot;
