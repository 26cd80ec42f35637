//! The request id: 32 random hex digits, made once per request and shared as a header value
//! (the upstream request, the response and the log use the same bytes, no copies).

use bytes::Bytes;
use http::HeaderValue;

/// One request's id.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

/// Ids made at once per thread: one buffer and one batch of random bits for all of them.
const BATCH: usize = 64;
/// Hex digits of one id.
const DIGITS: usize = 32;

thread_local! {
    /// This thread's batch of ids in hex and how many of them are taken.
    static BATCHED: std::cell::RefCell<(Bytes, usize)> =
        const { std::cell::RefCell::new((Bytes::new(), BATCH)) };
}

/// `BATCH` ids' digits from the thread-local generator (a CSPRNG, as before; no system call).
fn fresh_batch() -> Bytes {
    let mut random = [0u8; BATCH * DIGITS / 2];
    rand::fill(&mut random[..]);
    let mut hex = vec![0u8; BATCH * DIGITS];
    // Twice as many digits as bytes: the one way this fails does not happen.
    let _ = hex::encode_to_slice(random, &mut hex);
    Bytes::from(hex)
}

impl RequestId {
    /// A fresh id: the next of this thread's batch, sharing the batch's buffer (no allocation
    /// per id; a batch is freed when its last id is).
    pub fn random() -> RequestId {
        let digits = BATCHED.with(|cell| {
            let mut batch = cell.borrow_mut();
            if batch.1 == BATCH {
                *batch = (fresh_batch(), 0);
            }
            let at = batch.1 * DIGITS;
            batch.1 += 1;
            batch.0.slice(at..at + DIGITS)
        });
        RequestId(
            HeaderValue::from_maybe_shared(digits)
                .unwrap_or_else(|_| HeaderValue::from_static("00000000000000000000000000000000")),
        )
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("")
    }

    /// The id as a header value, borrowed.
    pub fn value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id as a header value (a reference-counted copy).
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_differ() {
        let a = RequestId::random();
        let b = RequestId::random();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.header().to_str().ok(), Some(a.as_str()));
    }

    #[test]
    fn ids_across_batches_are_hex_and_all_differ() {
        let ids: Vec<RequestId> = (0..3 * BATCH + 5).map(|_| RequestId::random()).collect();
        let mut seen = std::collections::HashSet::new();
        for id in &ids {
            assert_eq!(id.as_str().len(), DIGITS);
            assert!(id
                .as_str()
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
            assert!(seen.insert(id.as_str().to_string()), "repeated: {id}");
        }
    }
}
