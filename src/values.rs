//! Header values made once and shared: a clone counts a reference instead of formatting and
//! allocating the text per request; other numbers are written into a thread's shared block.

use bytes::BytesMut;
use http::HeaderValue;
use once_cell::sync::Lazy;
use std::cell::RefCell;

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
    shared_number(n)
        .cloned()
        .unwrap_or_else(|| digits(itoa::Buffer::new().format(n)))
}

/// `n` as a shared header value, for the numbers made once (`None` past them): borrowed, so a
/// caller that only copies its bytes touches no count.
pub fn shared_number(n: u64) -> Option<&'static HeaderValue> {
    usize::try_from(n).ok().and_then(|i| NUMBERS.get(i))
}

/// Bytes of a thread's block for the digits of numbers past the shared ones: about a dozen
/// numbers share one allocation, and a value kept long keeps at most this much alive.
const BLOCK: usize = 256;

thread_local! {
    /// What is left of this thread's block of digits.
    static BLOCK_LEFT: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A header value of digits, written into this thread's block and sharing it (no allocation
/// per value: `HeaderValue::from` a number takes two, a copy of the text one).
fn digits(text: &str) -> HeaderValue {
    let bytes = BLOCK_LEFT.with(|cell| {
        let mut block = cell.borrow_mut();
        if block.capacity() < text.len() {
            *block = BytesMut::with_capacity(BLOCK.max(text.len()));
        }
        block.extend_from_slice(text.as_bytes());
        block.split().freeze()
    });
    HeaderValue::from_maybe_shared(bytes).unwrap_or(HeaderValue::from_static("0"))
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
        assert_eq!(shared_number(0).map(HeaderValue::as_bytes), Some(&b"0"[..]));
        assert_eq!(
            shared_number(1023).map(HeaderValue::as_bytes),
            Some(&b"1023"[..])
        );
        assert_eq!(shared_number(1024), None);
        assert_eq!(shared_number(u64::MAX), None);
    }

    #[test]
    fn numbers_past_the_shared_ones_share_a_block_and_stay_apart() {
        let made: Vec<HeaderValue> = (0..100u64).map(|i| number(1_000_000 + i)).collect();
        for (i, v) in made.iter().enumerate() {
            assert_eq!(v, &(1_000_000 + i as u64).to_string());
        }
        // A number longer than a block still reads whole.
        assert_eq!(digits(&"9".repeat(300)), "9".repeat(300).as_str());
        assert_eq!(number(u64::MAX), "18446744073709551615");
    }
}
