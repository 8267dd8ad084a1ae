//! Replicas of the real binary surviving their database's faults (a real PostgreSQL): backends
//! terminated again and again under load and the server restarted twice leave every replica
//! SERVING, at the head and committing, with no panic in any log; holds that come due while the
//! database is down expire once it is back (and are never confirmed); a commit sent to a frozen
//! replica and retried with its request id on another reserves exactly once, ever; a
//! compaction's roll is numbered only once its turn has committed.

use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fulfil::reserve::postgres::PgStore;
use fulfil::reserve::{Projection, Record, Store, StoreError};
use fulfil::service::pb::{
    self, reservations_client::ReservationsClient, routing_client::RoutingClient,
};
use tonic::Code;
use tonic::transport::Channel;

use super::crash::serving;
use super::pg::Pg;
use super::replicas::{
    Replica, acknowledged_in_db, commit, commit_from, states_in_db, stream_commits,
};
use super::service::ship;

/// `n` replicas started one after another, each logging its warnings to a file of `logs`.
async fn logged_replicas(
    pg: &Pg,
    n: usize,
    extra: &[&str],
    logs: &tempfile::TempDir,
) -> (Vec<Replica>, Vec<Channel>, Vec<PathBuf>) {
    let (mut rs, mut chs, mut paths) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let path = logs.path().join(format!("replica-{i}.log"));
        let file = File::create(&path).expect("log file");
        let r = Replica::spawn_to(pg, extra, Stdio::from(file));
        chs.push(r.ready().await);
        rs.push(r);
        paths.push(path);
    }
    (rs, chs, paths)
}

/// Fails if a replica's log tells of a panic, or a replica is no longer running.
fn no_panic(replicas: &mut [Replica], logs: &[PathBuf]) {
    for (r, log) in replicas.iter_mut().zip(logs) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            !text.contains("panicked") && !text.contains("Cannot start a runtime"),
            "{}: {text}",
            log.display()
        );
        assert!(
            matches!(r.child.try_wait(), Ok(None)),
            "{} exited: {text}",
            log.display()
        );
    }
}

/// Commits one unit of A for `order_id` on `ch`, retrying while the replica reconnects.
async fn commit_eventually(ch: &Channel, order_id: &str) -> String {
    let mut routing = RoutingClient::new(ch.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match routing
            .route_order(commit(ship(order_id, 40.73, -73.93, &[("A", 1)])))
            .await
        {
            Ok(r) => {
                let id = r.into_inner().reservation_id;
                assert!(!id.is_empty(), "{order_id} reserved");
                return id;
            }
            Err(s) => assert!(
                Instant::now() < deadline && s.code() == Code::Unavailable,
                "{order_id}: {s:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until reservation `id` reads `state` on `ch`.
async fn reads(ch: &Channel, id: &str, state: &str, within: Duration) {
    let mut res = ReservationsClient::new(ch.clone());
    let deadline = Instant::now() + within;
    loop {
        let got = res
            .get(pb::ReservationRef {
                reservation_id: id.into(),
            })
            .await
            .map(|r| r.into_inner().state);
        if got.as_ref().is_ok_and(|s| s == state) {
            return;
        }
        assert!(Instant::now() < deadline, "{id}: {got:?}, not {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Terminates every fulfil backend, every 0.5–1.5 s, until `stop`.
fn terminate_backends(pg: Arc<Pg>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut rounds = 0;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(500 + (rounds * 379 % 1000) as u64));
            pg.query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = 'fulfil'",
            );
            rounds += 1;
        }
        rounds
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_under_load_and_two_restarts_leave_every_replica_serving_at_the_head() {
    let Some(pg) = Pg::start() else { return };
    let pg = Arc::new(pg);
    let logs = tempfile::tempdir().expect("temp");
    let (mut rs, chs, paths) = logged_replicas(&pg, 2, &[], &logs).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (out, tasks) = stream_commits(&chs, 6, true, stop.clone());

    let killing = Arc::new(AtomicBool::new(false));
    let killer = terminate_backends(pg.clone(), killing.clone());
    tokio::time::sleep(Duration::from_secs(6)).await;
    killing.store(true, Ordering::Relaxed);
    assert!(killer.join().expect("killer") >= 4, "backends terminated");
    for _ in 0..2 {
        let p = pg.clone();
        tokio::task::spawn_blocking(move || {
            p.stop_server();
            std::thread::sleep(Duration::from_millis(800));
            p.start_server();
        })
        .await
        .expect("restart");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client");
    }
    let out = std::mem::take(&mut *out.lock().unwrap());
    assert!(out.acked.len() > 50, "commits went on: {}", out.acked.len());

    // Every replica SERVING, committing, and following the others to the head.
    for ch in &chs {
        serving(ch, "", Duration::from_secs(30)).await;
        serving(ch, "fulfil.v1.Reservations", Duration::from_secs(5)).await;
    }
    let mut fresh = Vec::new();
    for (i, ch) in chs.iter().enumerate() {
        fresh.push(commit_eventually(ch, &format!("after-{i}")).await);
    }
    let head = pg.number("SELECT seq FROM fulfil_head");
    for ch in &chs {
        for id in &fresh {
            reads(ch, id, "held", Duration::from_secs(5)).await;
        }
    }
    assert_eq!(
        pg.number("SELECT seq FROM fulfil_head"),
        head,
        "reads changed nothing"
    );
    acknowledged_in_db(&pg, &out);
    no_panic(&mut rs, &paths);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_due_while_the_database_is_down_expire_once_it_is_back_and_are_never_confirmed() {
    let Some(pg) = Pg::start() else { return };
    let pg = Arc::new(pg);
    let logs = tempfile::tempdir().expect("temp");
    let (mut rs, chs, paths) =
        logged_replicas(&pg, 2, &["--reservation-ttl-secs", "4"], &logs).await;
    let t0 = Instant::now();
    let (acked, refused) = commit_from(&chs, 12, 3, &[("A", 1)]).await;
    assert!(refused.is_empty(), "{refused:?}");
    assert!(acked.len() >= 30, "holds: {}", acked.len());
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "committed well before they are due"
    );

    // Down for 5.2 s: every hold comes due meanwhile.
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.stop_server())
        .await
        .expect("stop");
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert!(t0.elapsed() > Duration::from_secs(5), "every hold is due");
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.start_server())
        .await
        .expect("start");
    let back = Instant::now();
    assert!(back - down >= Duration::from_secs(5));

    // A confirmation that reaches a replica first is refused: the hold ran out.
    let mut res = ReservationsClient::new(chs[0].clone());
    let (first, _) = &acked[0];
    let answer = loop {
        let r = res
            .confirm(pb::ReservationRef {
                reservation_id: first.clone(),
            })
            .await;
        match r {
            Err(s) if s.code() == Code::Unavailable && back.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    };
    let status = answer.expect_err("an overdue hold is never confirmed");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    // Every hold expired within a few seconds of the database's return, each once.
    let deadline = back + Duration::from_secs(8);
    loop {
        let states = states_in_db(&pg);
        let expired = acked
            .iter()
            .filter(|(id, _)| states.get(id).map(String::as_str) == Some("expired"))
            .count();
        if expired == acked.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{expired} of {} expired {:?} after the database came back",
            acked.len(),
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expiries = pg.query(
        "SELECT record->>'id', count(*) FROM fulfil_changes WHERE kind = 'expire' GROUP BY 1",
    );
    assert_eq!(expiries.len(), acked.len(), "one expiry per hold");
    assert!(
        expiries.iter().all(|r| r[1].as_deref() == Some("1")),
        "{expiries:?}"
    );
    for ch in &chs {
        for (id, _) in &acked {
            reads(ch, id, "expired", Duration::from_secs(3)).await;
        }
    }
    no_panic(&mut rs, &paths);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_to_a_frozen_replica_retried_elsewhere_with_its_request_id_reserves_once() {
    let Some(pg) = Pg::start() else { return };
    let logs = tempfile::tempdir().expect("temp");
    let (mut rs, chs, paths) = logged_replicas(&pg, 2, &[], &logs).await;
    let pid = rs[0].child.id() as libc::pid_t;
    let signal = |sig: libc::c_int| {
        // SAFETY: a signal to our own child, which is still running.
        let ok = unsafe { libc::kill(pid, sig) } == 0;
        assert!(ok, "signal {sig} to {pid}");
    };
    let request = |timeout: Duration| {
        let mut r = tonic::Request::new(pb::RouteOrderRequest {
            request_id: "checkout-7f3a".into(),
            ..commit(ship("frozen-1", 40.73, -73.93, &[("A", 2)]))
        });
        r.set_timeout(timeout);
        r
    };

    signal(libc::SIGSTOP);
    let first = RoutingClient::new(chs[0].clone())
        .route_order(request(Duration::from_secs(2)))
        .await;
    let status = first.expect_err("a frozen replica does not answer");
    // (tonic's client says CANCELLED "Timeout expired" for its own deadline.)
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );

    // Retried with the same request id on the other replica, and confirmed there.
    let retried = RoutingClient::new(chs[1].clone())
        .route_order(request(Duration::from_secs(10)))
        .await
        .expect("the retry commits")
        .into_inner();
    let id = retried.reservation_id.clone();
    assert!(!id.is_empty() && !retried.replayed);
    ReservationsClient::new(chs[1].clone())
        .confirm(pb::ReservationRef {
            reservation_id: id.clone(),
        })
        .await
        .expect("confirmed");

    // The frozen replica resumes with the abandoned call still in its socket.
    signal(libc::SIGCONT);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = RoutingClient::new(chs[0].clone())
        .route_order(request(Duration::from_secs(10)))
        .await
        .expect("a retry on the resumed replica answers")
        .into_inner();
    assert_eq!(again.reservation_id, id, "the reservation the request made");
    assert!(again.replayed);
    assert_eq!(again.reservation_state, "confirmed");

    let reserves = pg.number(
        "SELECT count(*) FROM fulfil_changes \
         WHERE kind = 'reserve' AND record->>'order_id' = 'frozen-1'",
    );
    assert_eq!(reserves, 1, "exactly one reservation for the order, ever");
    let rows = pg.query("SELECT id, state FROM fulfil_reservations WHERE order_id = 'frozen-1'");
    assert_eq!(
        rows,
        vec![vec![Some(id.clone()), Some("confirmed".to_owned())]]
    );
    no_panic(&mut rs, &paths);
}

#[test]
fn a_compaction_roll_is_numbered_only_once_its_turn_has_committed() {
    let Some(pg) = Pg::start() else { return };
    let dir = tempfile::tempdir().expect("temp");
    let store = PgStore::connect(&pg.url(), dir.path()).expect("connects");
    store.recover().expect("reads");
    let append = |store: &PgStore| {
        let (tx, rx) = std::sync::mpsc::channel();
        store.append_projected(
            vec![Record::ReservationIds { next: 9 }],
            Projection::default(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx
    };
    let roll = |store: &PgStore| {
        let (tx, rx) = std::sync::mpsc::channel();
        store.roll(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        rx
    };

    // A turn that commits: the roll is told its last change, once committed.
    store.begin_turn().expect("turn");
    let acked = append(&store);
    let rolled = roll(&store);
    assert!(rolled.try_recv().is_err(), "not told before the commit");
    store.end_turn(false);
    acked.recv().expect("ack").expect("committed");
    let at = rolled.recv().expect("roll").expect("rolled");
    assert_eq!(at as i64, pg.number("SELECT seq FROM fulfil_head"));

    // A group whose commit fails (its backend terminated under it): the roll fails too, so no
    // checkpoint is ever numbered after a change that did not commit.
    store.begin_turn().expect("turn");
    let acked = append(&store);
    let rolled = roll(&store);
    let killed = pg.number(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'fulfil' AND state LIKE 'idle in transaction%'",
    );
    assert_eq!(killed, 1, "the turn's backend");
    store.end_turn(false);
    assert!(acked.recv().expect("ack").is_err(), "the group failed");
    let rolled = rolled.recv().expect("roll");
    assert!(
        matches!(rolled, Err(StoreError::WriteFailed { .. })),
        "{rolled:?}"
    );
    assert_eq!(
        pg.number("SELECT seq FROM fulfil_head") as u64,
        at,
        "nothing of the failed group committed"
    );
}
