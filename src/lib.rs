//! # fulfil
//!
//! A fulfilment routing optimizer. Given a network of nodes (distribution centres, stores, dropship
//! vendors) holding inventory, carrier rate cards and distance zones, fulfil decides for every order
//! which node ships which line with which carrier, at the least cost as defined by scenario format
//! v1 (`docs/scenario-format.md`): shipping + handling + split penalty + backorder penalty.
//!
//! The crate is layered (see `ARCHITECTURE.md`); arrows point down only:
//! - [`service`]: gRPC (tonic) only: converts requests and calls the core;
//! - [`live`]: the live network a service routes against, changed by one writer in one total
//!   order and made durable by a store before a change is acknowledged;
//! - [`simulate`]: planners' what-ifs replayed over days, KPIs and the HTML report;
//! - [`lookahead`]: opportunity costs of stock from expected demand (LP duals) and the
//!   `lookahead` policy;
//! - [`batch`]: joint re-optimization of a backlog (LP/MIP on HiGHS) with a proven bound;
//! - [`reserve`]: the reservation book, the records of changes, the `Store` trait and its
//!   journal;
//! - [`route`]: the cost model, the exact per-order search, the baseline, sequential runs,
//!   fulfilment options, the MIP reference;
//! - [`snapshot`]: the immutable, indexed network that routing reads;
//! - [`scenario`]: scenario format v1 in and out, validation, and the generator;
//! - [`model`]: the domain types (ids, nodes, SKUs, rates, orders, decisions, policy, geography);
//! - [`cancel`]: the cancellation token every long computation checks.
//!
//! Nothing below `service` knows gRPC, tokio or the command line.

pub mod batch;
pub mod cancel;
pub mod live;
pub mod lookahead;
pub mod model;
pub mod reserve;
pub mod route;
pub mod scenario;
pub mod service;
pub mod simulate;
pub mod snapshot;
