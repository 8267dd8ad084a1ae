//! The ids a client sends — order, line SKU, node, reservation, request, source, group,
//! channel — are 1 to [`MAX_ID_BYTES`] bytes of printable text, checked where a request is
//! converted (INVALID_ARGUMENT naming the field otherwise); and a value echoed in a status
//! message is clipped to [`ECHO_CHARS`] characters ([`clip`]), so no answer grows with what a
//! caller sent.

use std::fmt;

use tonic::Status;

/// The longest id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// The most characters of a value a status message repeats.
pub const ECHO_CHARS: usize = 64;

/// INVALID_ARGUMENT naming `field` unless `value` is 1–256 bytes without control characters.
pub fn check(field: impl fmt::Display, value: &str) -> Result<(), Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    check_optional(&field, value)
}

/// As [`check`], but empty is allowed (an optional id).
pub fn check_optional(field: impl fmt::Display, value: &str) -> Result<(), Status> {
    if value.len() > MAX_ID_BYTES {
        return Err(Status::invalid_argument(format!(
            "{field}: {} bytes, above the limit of {MAX_ID_BYTES} for an id (`{}`)",
            value.len(),
            clip(value)
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!(
            "{field}: an id is printable text, without control characters (`{}`)",
            clip(value)
        )));
    }
    Ok(())
}

/// Checks every id of `values` (`field[i]`).
pub fn check_all(field: impl fmt::Display, values: &[String]) -> Result<(), Status> {
    for (i, v) in values.iter().enumerate() {
        check(format_args!("{field}[{i}]"), v)?;
    }
    Ok(())
}

/// `value` as a status message repeats it: its first 64 characters, then `…` if there were
/// more; control characters shown escaped.
pub fn clip(value: &str) -> Clipped<'_> {
    Clipped(value)
}

/// See [`clip`].
pub struct Clipped<'a>(&'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars().take(ECHO_CHARS) {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        if self.0.chars().nth(ECHO_CHARS).is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_printable_text() {
        assert!(check("order.order_id", "A-1").is_ok());
        assert!(check("order.order_id", &"é".repeat(128)).is_ok());
        let big = check("order.order_id", &"x".repeat(5 << 20)).expect_err("5 MB");
        assert_eq!(big.code(), tonic::Code::InvalidArgument);
        assert!(big.message().starts_with("order.order_id: 5242880 bytes"));
        assert!(big.message().len() < 200, "{}", big.message());
        assert!(check("x", "").is_err());
        assert!(check_optional("x", "").is_ok());
        assert!(check("x", "a\nb").is_err());
    }

    #[test]
    fn echoes_are_clipped() {
        assert_eq!(clip("SKU-1").to_string(), "SKU-1");
        let long = "s".repeat(1 << 20);
        assert_eq!(clip(&long).to_string(), format!("{}…", "s".repeat(64)));
        assert_eq!(clip("a\u{0}b").to_string(), "a\\u{0}b");
    }
}
