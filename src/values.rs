//! Header values made once and shared: a clone counts a reference instead of formatting and
//! allocating the text per request.

use http::HeaderValue;
use once_cell::sync::Lazy;

/// The numbers latency and rate-limit headers usually carry.
static NUMBERS: Lazy<Vec<HeaderValue>> = Lazy::new(|| {
    (0..1024u64)
        .map(|n| {
            let v = HeaderValue::from(n);
            // The first clone makes the bytes shared; later ones only count a reference.
            let _ = v.clone();
            v
        })
        .collect()
});

/// `n` as a header value; shared for small numbers.
pub fn number(n: u64) -> HeaderValue {
    NUMBERS
        .get(n as usize)
        .cloned()
        .unwrap_or_else(|| digits(itoa::Buffer::new().format(n)))
}

/// A header value of digits in one allocation (`HeaderValue::from` a number takes two: it
/// formats into a growable buffer, then fits the buffer to the text).
fn digits(text: &str) -> HeaderValue {
    HeaderValue::from_bytes(text.as_bytes()).unwrap_or(HeaderValue::from_static("0"))
}

/// `n` as a header value, negative numbers included; shared for small ones.
pub fn signed(n: i64) -> HeaderValue {
    match u64::try_from(n) {
        Ok(n) => number(n),
        Err(_) => digits(itoa::Buffer::new().format(n)),
    }
}

/// `n` as a header value whose clones share its bytes (for values made once, at load).
pub fn shared(n: i64) -> HeaderValue {
    let v = HeaderValue::from(n);
    let _ = v.clone();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_they_are() {
        assert_eq!(number(0), "0");
        assert_eq!(number(1023), "1023");
        assert_eq!(number(123_456), "123456");
        assert_eq!(shared(-5), "-5");
        assert_eq!(signed(-5), "-5");
        assert_eq!(signed(i64::MIN), "-9223372036854775808");
        assert_eq!(signed(7), "7");
    }
}
