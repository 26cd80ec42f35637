//! Admission of client connections: at most `limit` open at once. Past it a new connection is
//! closed at once (counted, and logged), so an overload costs a refused connection, never the
//! descriptors or memory the established clients need.

use crate::telemetry::Metrics;
use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Wraps the proxy's application with the connection limit.
pub struct Admission<A> {
    inner: Arc<A>,
    open: AtomicUsize,
    limit: usize,
    metrics: Arc<Metrics>,
}

impl<A> Admission<A> {
    pub fn new(inner: A, limit: usize, metrics: Arc<Metrics>) -> Admission<A> {
        Admission {
            inner: Arc::new(inner),
            open: AtomicUsize::new(0),
            limit: limit.max(1),
            metrics,
        }
    }

    /// Takes a place for one connection, or `None` when `limit` are open.
    fn admit(&self) -> Option<Place<'_, A>> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()?;
        self.metrics.connections_open.inc();
        Some(Place(self))
    }
}

/// One admitted connection's place, given back when the connection ends.
struct Place<'a, A>(&'a Admission<A>);

impl<A> Drop for Place<'_, A> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.connections_open.dec();
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Admission<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Some(_place) = self.admit() else {
            self.metrics.connections_refused.inc();
            let peer = stream
                .get_socket_digest()
                .and_then(|d| d.peer_addr().map(|a| a.to_string()))
                .unwrap_or_default();
            log::warn!(
                "max_connections reached ({} open): connection from {peer} closed",
                self.limit
            );
            return None;
        };
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}
