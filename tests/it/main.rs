//! All integration tests in one binary (one link step).

mod batch;
mod cli;
mod clients;
mod conformance;
mod crash;
mod dates;
mod differential;
mod envelope;
mod exceptions;
mod fuzzed;
mod hand_worked;
mod journal;
mod live;
mod live_model;
mod live_safety;
mod load_errors;
mod ops;
mod pg;
mod properties;
mod replicas;
mod rules;
mod service;
mod service_stress;
mod simulate;
mod support;
mod tidy;
