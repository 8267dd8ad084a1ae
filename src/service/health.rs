//! The server's health, said two ways with one source: the standard gRPC health service (per
//! service and `""` for the whole server) and the `ready` flag behind `/readyz` on the metrics
//! port, true exactly when `""` is SERVING.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health as HealthApi, HealthServer};
use tonic_health::server::HealthReporter;

use super::pb;

/// The services that change state, and the server as a whole (`""`), by the names the generated
/// code gives them (no handler needed to read them).
const CHANGING: [&str; 4] = [
    pb::routing_server::SERVICE_NAME,
    pb::reservations_server::SERVICE_NAME,
    pb::network_server::SERVICE_NAME,
    "",
];

/// Writes the server's health; clones share it.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    ready: Arc<AtomicBool>,
}

impl Health {
    /// NOT_SERVING everywhere; the gRPC service that answers for it.
    pub async fn new() -> (Health, HealthServer<impl HealthApi>) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Health {
            reporter,
            ready: Arc::default(),
        };
        health.set_all(ServingStatus::NotServing).await;
        (health, service)
    }

    /// The flag `/readyz` reads.
    pub fn ready(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// Sets the health of the services that change state (Routing, Reservations, Network) and
    /// of the server as a whole: SERVING once loaded, NOT_SERVING while the store has failed
    /// (they refuse every change until it is reopened).
    /// `/readyz` turns 503 before any watcher hears NOT_SERVING, and 200 only after SERVING
    /// was said.
    pub async fn set_changing(&self, status: ServingStatus) {
        let serving = status == ServingStatus::Serving;
        if !serving {
            self.ready.store(false, Ordering::Release);
        }
        for name in CHANGING {
            self.reporter.set_service_status(name, status).await;
        }
        if serving {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Sets every service's health, Planning's too (at start and when shutting down).
    pub async fn set_all(&self, status: ServingStatus) {
        let planning = pb::planning_server::SERVICE_NAME;
        self.reporter.set_service_status(planning, status).await;
        self.set_changing(status).await;
    }
}
