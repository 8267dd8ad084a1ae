//! The text log line's fields and timestamp, written exactly as tracing-subscriber's defaults
//! write them, for less: a server writes one line per change (the call log), and the defaults
//! format every string field through Rust's `Debug` one character at a time and every
//! timestamp from scratch.
//!
//! - [`Fields`]: a string field that needs no escaping (printable ASCII, no `"` or `\`) is
//!   written as `name="value"` directly; every other field goes to tracing-subscriber's own
//!   visitor, so escaping, messages, errors and ANSI colours stay as they were.
//! - [`UtcMicros`]: `2026-12-07T22:24:51.169528Z`, the date and time of day formatted once per
//!   second per thread.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::time::FormatTime;

/// The text format's field formatter (see the module).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields;

impl<'a> MakeVisitor<Writer<'a>> for Fields {
    type Visitor = FieldsVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        FieldsVisitor {
            writer: target,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// Writes one event's or span's fields.
pub struct FieldsVisitor<'a> {
    writer: Writer<'a>,
    /// No field written yet (the next one gets no leading space).
    is_empty: bool,
    result: fmt::Result,
}

/// A string whose `Debug` form is itself in quotes.
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl FieldsVisitor<'_> {
    /// One field through tracing-subscriber's own visitor.
    fn delegate(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor);
        self.result = visitor.finish();
        // (It skips the `log.` fields of records from the `log` crate, writing nothing.)
        if !field.name().starts_with("log.") {
            self.is_empty = false;
        }
    }

    /// `name="value"` for a plain value, or false when the default must write it.
    fn write_plain(&mut self, field: &Field, value: &str) -> bool {
        let name = field.name();
        let special = name == "message" || name.starts_with("r#") || name.starts_with("log.");
        if special || self.writer.has_ansi_escapes() || !plain(value) {
            return false;
        }
        let w = &mut self.writer;
        let pad = if std::mem::take(&mut self.is_empty) {
            ""
        } else {
            " "
        };
        self.result = (|| {
            w.write_str(pad)?;
            w.write_str(name)?;
            w.write_str("=\"")?;
            w.write_str(value)?;
            w.write_char('"')
        })();
        true
    }
}

impl Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() && self.write_plain(field, value) {
            return;
        }
        self.delegate(field, |v| v.record_str(field, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.delegate(field, |v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.delegate(field, |v| v.record_debug(field, value));
    }
}

impl VisitOutput<fmt::Result> for FieldsVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for FieldsVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// UTC timestamps with microseconds, as tracing-subscriber's `SystemTime` writes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct UtcMicros;

thread_local! {
    /// The second last written on this thread, and its `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for UtcMicros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let since = SystemTime::now().duration_since(UNIX_EPOCH);
        let Some(at) = since
            .ok()
            .and_then(|d| chrono::DateTime::from_timestamp(d.as_secs() as i64, d.subsec_nanos()))
            .filter(|t| (0..=9999).contains(&chrono::Datelike::year(t)))
        else {
            return tracing_subscriber::fmt::time::SystemTime.format_time(w);
        };
        let secs = at.timestamp() as u64;
        SECOND.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.0 != secs {
                cell.1.clear();
                write!(cell.1, "{}", at.format("%Y-%m-%dT%H:%M:%S"))?;
                cell.0 = secs;
            }
            write!(w, "{}.{:06}Z", cell.1, at.timestamp_subsec_micros())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \"failure\"")]
    struct Outer(#[source] std::io::Error);

    /// Every kind of field, in a span and in events, plain and needing escapes.
    fn log_everything() {
        let span = tracing::info_span!("call", rpc = "Release", id = "r-1\"x", n = 3);
        let _entered = span.enter();
        tracing::info!(target: "fulfil::calls", rpc = "RouteOrder", request_id = "0e76",
            order_id = "O-1", reservation_id = "", outcome = "ok", "{} done", "RouteOrder");
        tracing::warn!(order_id = "tab\there", quote = "say \"hi\"", back = "a\\b",
            uni = "café", ctl = "\u{1b}[31m", num = 42u64, neg = -7i64, yes = true,
            f = 1.5f64, dbg = ?vec![1, 2], shown = %"a b", "message with \"quotes\"");
        let e = Outer(std::io::Error::other("disk full"));
        tracing::error!(error = &e as &(dyn std::error::Error + 'static), "failed");
        tracing::info!(r#type = "plain", "raw name");
        tracing::info!("only a message");
        tracing::info!(first = "", second = "x");
    }

    /// The lines `log_everything` writes with the default fields or ours, without timestamps.
    fn lines(ours: bool) -> String {
        let out = Buffer::default();
        let writer = out.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time();
        let subscriber = tracing_subscriber::layer::SubscriberExt::with(
            tracing_subscriber::registry(),
            if ours {
                tracing_subscriber::Layer::boxed(layer.fmt_fields(Fields))
            } else {
                tracing_subscriber::Layer::boxed(layer)
            },
        );
        tracing::subscriber::with_default(subscriber, log_everything);
        let bytes = out.0.lock().expect("buffer").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn fields_are_written_as_the_default_writes_them() {
        let (default, ours) = (lines(false), lines(true));
        assert_eq!(ours, default);
        assert!(ours.contains(r#"rpc="RouteOrder" request_id="0e76" order_id="O-1""#));
        assert!(ours.contains(r#"quote="say \"hi\"""#), "{ours}");
        assert_eq!(ours.lines().count(), 6);
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let mut s = String::new();
        let micros = || {
            let d = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("after 1970");
            d.as_micros() as i64
        };
        let before = micros();
        UtcMicros
            .format_time(&mut Writer::new(&mut s))
            .expect("format");
        let after = micros();
        assert_eq!(s.len(), "2026-12-07T22:24:51.169528Z".len(), "{s}");
        let at = chrono::DateTime::parse_from_rfc3339(&s).expect("RFC 3339");
        assert!(before <= at.timestamp_micros() && at.timestamp_micros() <= after);
        // The second's prefix comes from the cache on the next call.
        let mut again = String::new();
        UtcMicros
            .format_time(&mut Writer::new(&mut again))
            .expect("format");
        assert!(again >= s, "{again} after {s}");
    }
}
