//! A server's log lines, written to stderr in batches: a call appends its formatted line to a
//! shared buffer (a lock and a copy) and a thread of its own, woken when the buffer stops being
//! empty, writes it [`INTERVAL`] later, or as soon as it holds [`BATCH_BYTES`]. A committing server writes a line per
//! change; written one `write(2)` each on the threads that serve calls, or handed one by one
//! to a writer thread woken per line, they cost a sixth of its throughput (BENCHMARKS.md,
//! "Fast again").
//!
//! Only many lines are batched: a warning or an error, and a line that comes more than
//! [`INTERVAL`] after the line before it, are written at once (after what is queued), so a
//! quiet server's lines, and every warning, are on stderr before the call that logged them
//! goes on, even if the process is killed next.
//!
//! Nothing is dropped: a line that finds [`MAX_BYTES`] queued writes the queue itself before
//! it returns, so a stderr slower than the server slows the server instead of growing memory.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a line may wait before it is written.
pub const INTERVAL: Duration = Duration::from_millis(20);
/// Queued bytes that wake the writer at once.
const BATCH_BYTES: usize = 64 * 1024;
/// Queued bytes past which a logging thread writes the queue itself.
const MAX_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    stopping: bool,
    /// When the last line came (`None`: none yet).
    last_line: Option<Instant>,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// [`MAX_BYTES`] (smaller in tests).
    max_bytes: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes queued bytes to stderr; a write error is ignored (there is nowhere left to report it).
fn write_out(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
    let _ = err.flush();
}

/// The writer handed to the log layer (cheap to clone).
#[derive(Clone)]
pub struct LogBuffer {
    shared: Arc<Shared>,
    /// This line is a warning or an error: written at once.
    urgent: bool,
}

/// The thread that writes the buffer; [`Flusher::stop`] writes what is left and ends it.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A buffer and the thread that writes it.
pub fn start() -> std::io::Result<(LogBuffer, Flusher)> {
    let shared = Arc::new(Shared {
        queue: Mutex::default(),
        wake: Condvar::new(),
        max_bytes: MAX_BYTES,
    });
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("fulfil-log".into())
        .spawn(move || run(&for_thread))?;
    Ok((
        LogBuffer {
            shared: shared.clone(),
            urgent: false,
        },
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

/// The writer thread: sleeps while nothing is queued; once lines are, gathers more for
/// [`INTERVAL`] (less if [`BATCH_BYTES`] fill first), swaps the queue out and writes it.
fn run(shared: &Shared) {
    let mut spare = Vec::new();
    loop {
        let mut q = shared.lock();
        while q.bytes.is_empty() && !q.stopping {
            q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if q.bytes.len() < BATCH_BYTES && !q.stopping {
            q = shared
                .wake
                .wait_timeout(q, INTERVAL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let stopping = q.stopping;
        std::mem::swap(&mut q.bytes, &mut spare);
        drop(q);
        if !spare.is_empty() {
            write_out(&spare);
            spare.clear();
        }
        if stopping {
            return;
        }
    }
}

impl Flusher {
    /// Writes every queued line and ends the thread; lines logged later are written at once.
    pub fn stop(mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut q = self.shared.lock();
        let now = Instant::now();
        let quiet = q
            .last_line
            .is_none_or(|t| now.duration_since(t) >= INTERVAL);
        q.last_line = Some(now);
        if q.stopping || self.urgent || quiet {
            // Under the lock, after what is queued: lines stay in order.
            let mut out = std::mem::take(&mut q.bytes);
            out.extend_from_slice(buf);
            write_out(&out);
            return Ok(buf.len());
        }
        let was_empty = q.bytes.is_empty();
        q.bytes.extend_from_slice(buf);
        if q.bytes.len() >= self.shared.max_bytes {
            let full = std::mem::take(&mut q.bytes);
            write_out(&full);
        } else if was_empty || q.bytes.len() >= BATCH_BYTES {
            // Once per batch: the writer starts gathering, or writes a full batch now.
            self.shared.wake.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LogBuffer {
        LogBuffer {
            shared: self.shared.clone(),
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstarted(max_bytes: usize) -> (LogBuffer, Arc<Shared>) {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            wake: Condvar::new(),
            max_bytes,
        });
        let buf = LogBuffer {
            shared: shared.clone(),
            urgent: false,
        };
        (buf, shared)
    }

    #[test]
    fn a_quiet_line_and_a_warning_are_written_at_once_a_busy_line_waits() {
        let (mut buf, shared) = unstarted(1 << 20);
        buf.write_all(b"first: quiet\n").unwrap();
        assert!(shared.lock().bytes.is_empty());
        buf.write_all(b"second: right after\n").unwrap();
        assert_eq!(shared.lock().bytes.len(), 20);
        let mut warn = LogBuffer {
            urgent: true,
            ..buf.clone()
        };
        warn.write_all(b"a warning\n").unwrap();
        // Written with what was queued before it.
        assert!(shared.lock().bytes.is_empty());
    }

    #[test]
    fn lines_queue_until_the_writer_takes_them_and_stop_leaves_none() {
        let (mut buf, flusher) = start().unwrap();
        buf.write_all(b"one\n").unwrap();
        buf.write_all(b"two\n").unwrap();
        flusher.stop();
        // Stopped: the queue was written out and a later line is written at once.
        assert!(buf.shared.lock().bytes.is_empty());
        buf.write_all(b"three\n").unwrap();
        assert!(buf.shared.lock().bytes.is_empty());
    }

    #[test]
    fn the_writer_wakes_for_a_queued_line_and_writes_it_within_the_interval() {
        let (mut buf, flusher) = start().unwrap();
        buf.write_all(b"quiet: at once\n").unwrap();
        buf.write_all(b"queued\n").unwrap();
        assert_eq!(buf.shared.lock().bytes.len(), 7);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !buf.shared.lock().bytes.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the queued line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        flusher.stop();
    }

    #[test]
    fn a_full_queue_is_written_by_the_logging_thread() {
        let (mut buf, shared) = unstarted(16);
        buf.write_all(b"quiet: at once\n").unwrap();
        buf.write_all(b"a queued line\n").unwrap();
        assert_eq!(shared.lock().bytes.len(), 14);
        // No writer thread: the line that filled the queue wrote it.
        buf.write_all(b"and another\n").unwrap();
        assert!(shared.lock().bytes.is_empty());
    }
}
