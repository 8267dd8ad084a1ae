//! The connection budget of a listening port. Every accepted connection takes a place in its
//! port's [`Budget`] before anything else happens (a TLS handshake, HTTP/2's preface), and
//! gives it back when it closes. A connection that has not completed a first request within
//! the first-request timeout is closed by the port's sweeper; when the budget is full, the
//! oldest connection that never completed a request is closed to admit the new one (and a new
//! connection is refused only when every place is held by a connection that did). So silent
//! clients cannot use up the process's file descriptors, and a real client is served at once.
//!
//! A connection is closed from outside its task by shutting its socket down
//! (`shutdown(SHUT_RDWR)`): its reads end, and whatever serves it (rustls, hyper) closes it.
//! Accept errors (the process out of descriptors) back off instead of spinning.
//!
//! Metrics: `fulfil_connections_open{port}` and `fulfil_connections_closed_total{port,
//! reason}` (`ended`, `first_request_timeout`, `evicted`, `budget_full`, `handshake_failed`),
//! `fulfil_accept_errors_total{port}`.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Descriptors kept free of connections: the data folder's files, PostgreSQL's connections,
/// the runtime's own, scenario files being read, the OTLP exporter.
pub const RESERVED_DESCRIPTORS: u64 = 64;
/// The metrics port's budget (it is scraped by a few Prometheus servers and probes).
pub const METRICS_CONNECTIONS: usize = 16;
/// The largest default budget of the gRPC port, whatever the open-file limit.
pub const MAX_DEFAULT_CONNECTIONS: usize = 8192;
/// The smallest budget the gRPC port gets from a low open-file limit.
const MIN_CONNECTIONS: usize = 8;

/// Raises the soft open-file limit to the hard one; both afterwards (soft, hard), or `None`
/// where they cannot be read. Logged.
pub fn raise_open_files() -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit write to and read from the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim = raised;
            }
        }
        tracing::info!(
            soft_before = before,
            soft = lim.rlim_cur,
            hard = lim.rlim_max,
            "open-file limit"
        );
        Some((lim.rlim_cur, lim.rlim_max))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The gRPC port's default budget under an open-file limit of `soft`: what is left after the
/// reserve and the metrics port, at least 8, at most [`MAX_DEFAULT_CONNECTIONS`].
pub fn default_budget(soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return MAX_DEFAULT_CONNECTIONS;
    };
    let left = soft.saturating_sub(RESERVED_DESCRIPTORS + METRICS_CONNECTIONS as u64);
    usize::try_from(left)
        .unwrap_or(usize::MAX)
        .clamp(MIN_CONNECTIONS, MAX_DEFAULT_CONNECTIONS)
}

/// Why a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Reason {
    Ended = 0,
    FirstRequestTimeout = 1,
    Evicted = 2,
    BudgetFull = 3,
    HandshakeFailed = 4,
}

impl Reason {
    const ALL: [Reason; 5] = [
        Reason::Ended,
        Reason::FirstRequestTimeout,
        Reason::Evicted,
        Reason::BudgetFull,
        Reason::HandshakeFailed,
    ];

    fn name(self) -> &'static str {
        match self {
            Reason::Ended => "ended",
            Reason::FirstRequestTimeout => "first_request_timeout",
            Reason::Evicted => "evicted",
            Reason::BudgetFull => "budget_full",
            Reason::HandshakeFailed => "handshake_failed",
        }
    }
}

/// One connection's place in the budget.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    opened: Instant,
    used: AtomicBool,
    reason: AtomicU8,
    /// The socket while it is open (taken when the connection is dropped, under this lock, so
    /// a shutdown never reaches a descriptor the process has reused).
    fd: Mutex<Option<i32>>,
}

impl Conn {
    /// The connection completed a request: never closed as silent.
    pub fn mark_used(&self) {
        if !self.used.load(Ordering::Relaxed) {
            self.used.store(true, Ordering::Relaxed);
        }
    }

    /// Shuts the socket down (its reads end), recording why.
    fn close(&self, reason: Reason) {
        let fd = self.fd.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = *fd {
            let _ = self.reason.compare_exchange(
                Reason::Ended as u8,
                reason as u8,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            shutdown(fd);
        }
    }
}

#[cfg(target_os = "linux")]
fn shutdown(fd: i32) {
    // SAFETY: `fd` is the open socket of a live connection (see `Conn::fd`).
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

#[cfg(not(target_os = "linux"))]
fn shutdown(_fd: i32) {}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> Option<i32> {
    use std::os::fd::AsRawFd;
    Some(stream.as_raw_fd())
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> Option<i32> {
    None
}

/// A port's connection budget; clones share it.
#[derive(Clone, Debug)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    port: &'static str,
    max: usize,
    first_request: Duration,
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    gauge: metrics::Gauge,
    closed: [metrics::Counter; 5],
}

impl Budget {
    /// At most `max` connections on `port` (a label: `grpc`, `metrics`), each closed unless it
    /// completes a request within `first_request`.
    pub fn new(port: &'static str, max: usize, first_request: Duration) -> Budget {
        let closed = Reason::ALL.map(|r| {
            metrics::counter!("fulfil_connections_closed_total", "port" => port,
                "reason" => r.name())
        });
        let budget = Budget {
            inner: Arc::new(Inner {
                port,
                max: max.max(1),
                first_request,
                open: Mutex::default(),
                next: AtomicU64::new(0),
                gauge: metrics::gauge!("fulfil_connections_open", "port" => port),
                closed,
            }),
        };
        budget.spawn_sweeper();
        budget
    }

    /// How many connections hold a place.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.inner.lock().len()
    }

    /// A place for `stream`: the oldest silent connection is closed when the budget is full;
    /// `None` (the new one closed) when every place is held by a connection that has
    /// completed a request.
    fn admit(&self, stream: &TcpStream) -> Option<Slot> {
        let conn = Arc::new(Conn {
            id: self.inner.next.fetch_add(1, Ordering::Relaxed),
            opened: Instant::now(),
            used: AtomicBool::new(false),
            reason: AtomicU8::new(Reason::Ended as u8),
            fd: Mutex::new(raw_fd(stream)),
        });
        let victim = {
            let mut open = self.inner.lock();
            let victim = if open.len() >= self.inner.max {
                let silent = open
                    .values()
                    .find(|c| !c.used.load(Ordering::Relaxed))
                    .cloned();
                match silent {
                    Some(v) => open.remove(&v.id),
                    None => {
                        self.inner.closed[Reason::BudgetFull as usize].increment(1);
                        return None;
                    }
                }
            } else {
                None
            };
            open.insert(conn.id, conn.clone());
            victim
        };
        self.inner.gauge.increment(1.0);
        if let Some(v) = victim {
            v.close(Reason::Evicted);
        }
        Some(Slot {
            conn,
            budget: Arc::downgrade(&self.inner),
        })
    }

    /// Closes, every second or so, the connections that completed no request in time; ends
    /// with the budget.
    fn spawn_sweeper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every =
            (self.inner.first_request / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let late: Vec<Arc<Conn>> = inner
                    .lock()
                    .values()
                    .filter(|c| {
                        !c.used.load(Ordering::Relaxed) && c.opened.elapsed() >= inner.first_request
                    })
                    .cloned()
                    .collect();
                for c in late {
                    c.close(Reason::FirstRequestTimeout);
                }
            }
        });
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's place, given back when it drops.
#[derive(Debug)]
pub struct Slot {
    conn: Arc<Conn>,
    budget: Weak<Inner>,
}

impl Slot {
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Taken first: from here no shutdown reaches this descriptor.
        self.conn
            .fd
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(inner) = self.budget.upgrade() {
            inner.lock().remove(&self.conn.id);
            inner.gauge.decrement(1.0);
            let reason = self.conn.reason.load(Ordering::Relaxed) as usize;
            inner.closed[reason.min(Reason::ALL.len() - 1)].increment(1);
        }
    }
}

/// A connection of a budgeted port: the stream and its place (dropped after the stream, so
/// the place is given back once the socket is closed).
pub struct Tracked<IO> {
    io: IO,
    slot: Slot,
    remote: Option<SocketAddr>,
    /// On an HTTP/2 port: the frames written, read for GOAWAY.
    frames: Option<Box<Frames>>,
}

impl<IO> Tracked<IO> {
    pub fn conn(&self) -> &Arc<Conn> {
        self.slot.conn()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(frames)) = (&written, this.frames.as_mut()) {
            frames.read(&buf[..*n], this.remote);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(n)), Some(frames)) = (&written, this.frames.as_mut()) {
            let mut left = *n;
            for b in bufs {
                let take = left.min(b.len());
                frames.read(&b[..take], this.remote);
                left -= take;
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The HTTP/2 frames a server writes, followed header by header (9 bytes: length, type,
/// flags, stream) so that a GOAWAY it sends is logged with its error code and debug data
/// (h2 sends one, for instance, when a client's small DATA frames exceed its budget).
#[derive(Default)]
struct Frames {
    header: [u8; 9],
    have: usize,
    /// Payload bytes of the current frame still to come.
    rest: usize,
    /// The payload of the current GOAWAY, up to 256 bytes.
    goaway: Option<Vec<u8>>,
}

const GOAWAY: u8 = 0x7;

impl Frames {
    fn read(&mut self, mut bytes: &[u8], remote: Option<SocketAddr>) {
        while !bytes.is_empty() {
            if self.rest > 0 {
                let take = self.rest.min(bytes.len());
                if let Some(g) = self.goaway.as_mut() {
                    let room = 256usize.saturating_sub(g.len());
                    g.extend_from_slice(&bytes[..take.min(room)]);
                }
                self.rest -= take;
                bytes = &bytes[take..];
                if self.rest == 0 {
                    self.said(remote);
                }
                continue;
            }
            let take = (9 - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == 9 {
                self.have = 0;
                let [a, b, c, kind, ..] = self.header;
                self.rest = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                self.goaway = (kind == GOAWAY).then(Vec::new);
                if self.rest == 0 {
                    self.said(remote);
                }
            }
        }
    }

    /// Logs the GOAWAY just read, if it was one.
    fn said(&mut self, remote: Option<SocketAddr>) {
        let Some(g) = self.goaway.take() else { return };
        let code = g
            .get(4..8)
            .map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        let detail = String::from_utf8_lossy(g.get(8..).unwrap_or_default()).into_owned();
        let reason = h2_reason(code);
        metrics::counter!("fulfil_http2_goaway_total", "reason" => reason).increment(1);
        if code == 0 {
            tracing::debug!(?remote, reason, %detail, "HTTP/2 GOAWAY sent");
        } else {
            tracing::warn!(
                ?remote,
                reason,
                %detail,
                "HTTP/2 GOAWAY sent: the connection is closed"
            );
        }
    }
}

/// The name of an HTTP/2 error code (RFC 9113 §7).
fn h2_reason(code: u32) -> &'static str {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN")
}

/// What a request learns of its connection (in its extensions): its place, so the envelope
/// can mark the connection used.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    conn: Arc<Conn>,
}

impl<IO> tonic::transport::server::Connected for Tracked<IO> {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            conn: self.slot.conn.clone(),
        }
    }
}

/// Marks the connection a request came on as used (the envelope calls it for every call).
pub fn mark_used(extensions: &http::Extensions) {
    if let Some(info) = extensions.get::<ConnInfo>() {
        info.conn.mark_used();
    }
}

/// The connections of `listener` within `budget`, each turned into `IO` by `upgrade` (a TLS
/// handshake, or nothing) in a task of its own; on an `http2` port the frames written are read
/// for GOAWAY. Accept errors back off (10 ms doubling to
/// 1 s) and are logged at most once a second. Ends when the receiving side is dropped.
pub fn incoming<IO, F, Fut>(
    listener: TcpListener,
    budget: Budget,
    http2: bool,
    upgrade: F,
) -> ReceiverStream<io::Result<Tracked<IO>>>
where
    IO: Send + 'static,
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<IO>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let errors = metrics::counter!("fulfil_accept_errors_total", "port" => budget.inner.port);
        let mut backoff = Backoff::default();
        loop {
            let accepted = tokio::select! {
                _ = tx.closed() => break,
                a = listener.accept() => a,
            };
            let (stream, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    errors.increment(1);
                    backoff.wait(budget.inner.port, &e).await;
                    continue;
                }
            };
            backoff.reset();
            let _ = stream.set_nodelay(true);
            let Some(slot) = budget.admit(&stream) else {
                continue;
            };
            let (tx, upgraded) = (tx.clone(), upgrade(stream));
            tokio::spawn(async move {
                match upgraded.await {
                    Some(io) => {
                        let tracked = Tracked {
                            io,
                            slot,
                            remote: Some(remote),
                            frames: http2.then(Box::default),
                        };
                        let _ = tx.send(Ok(tracked)).await;
                    }
                    None => {
                        let _ = slot.conn.reason.compare_exchange(
                            Reason::Ended as u8,
                            Reason::HandshakeFailed as u8,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The accept loop's pause after an error.
#[derive(Default)]
struct Backoff {
    delay: Duration,
    logged: Option<Instant>,
}

impl Backoff {
    async fn wait(&mut self, port: &str, error: &io::Error) {
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        if self
            .logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.logged = Some(Instant::now());
            tracing::warn!(
                port,
                backoff_ms = self.delay.as_millis() as u64,
                "accept failed: {error} (out of file descriptors? see fulfil_connections_open)"
            );
        }
        tokio::time::sleep(self.delay).await;
    }

    fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_goaway_is_read_across_writes() {
        let mut w = Vec::new();
        w.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // empty SETTINGS
        let debug = b"too_many_data_frames";
        let len = 8 + debug.len();
        w.extend_from_slice(&[0, 0, len as u8, GOAWAY, 0, 0, 0, 0, 0]);
        w.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 11]);
        w.extend_from_slice(debug);
        for split in 0..w.len() {
            let mut f = Frames::default();
            f.read(&w[..split], None);
            f.read(&w[split..], None);
            assert_eq!((f.have, f.rest), (0, 0), "split at {split}");
            assert!(f.goaway.is_none(), "said at its end");
        }
        assert_eq!(h2_reason(11), "ENHANCE_YOUR_CALM");
    }

    #[test]
    fn the_default_budget_leaves_the_reserve_and_the_metrics_port() {
        assert_eq!(default_budget(Some(160)), 80);
        assert_eq!(default_budget(Some(20)), MIN_CONNECTIONS);
        assert_eq!(default_budget(Some(1 << 20)), MAX_DEFAULT_CONNECTIONS);
        assert_eq!(default_budget(None), MAX_DEFAULT_CONNECTIONS);
    }

    #[tokio::test]
    async fn a_full_budget_closes_the_oldest_silent_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let budget = Budget::new("test", 2, Duration::from_secs(60));
        let mut slots = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(TcpStream::connect(addr).await.expect("connect"));
            let (s, _) = listener.accept().await.expect("accept");
            slots.push((budget.admit(&s).expect("a place"), s));
        }
        slots[1].0.conn().mark_used();
        clients.push(TcpStream::connect(addr).await.expect("connect"));
        let (s, _) = listener.accept().await.expect("accept");
        let third = budget.admit(&s).expect("the silent one makes room");
        assert_eq!(budget.open(), 2);
        // The first (silent) socket was shut down: its reader sees the end.
        let mut buf = [0u8; 1];
        let n = tokio::io::AsyncReadExt::read(&mut slots[0].1, &mut buf)
            .await
            .expect("read");
        assert_eq!(n, 0);
        third.conn().mark_used();
        clients.push(TcpStream::connect(addr).await.expect("connect"));
        let (s, _) = listener.accept().await.expect("accept");
        assert!(budget.admit(&s).is_none(), "every place held by a used one");
        drop(third);
        assert_eq!(budget.open(), 1);
    }
}
