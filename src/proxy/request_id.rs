//! The request id: 32 random hex digits, made once per request and shared as a header value
//! (the upstream request, the response and the log use the same bytes, no copies).

use http::HeaderValue;

/// One request's id.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh id from the thread-local generator (no system call).
    pub fn random() -> RequestId {
        let mut hex = [0u8; 32];
        // 16 bytes always encode to exactly 32 hex digits.
        let _ = hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut hex);
        // Owned by a reference-counted block from the start: every later copy is a count,
        // where bytes made from a Vec allocate again on their first copy.
        RequestId(
            HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(hex))
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
}
