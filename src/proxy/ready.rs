//! Futures ready at once, for the hooks that never wait: zero-sized on success, so returning
//! one allocates nothing (an `async fn` hook boxes its whole state on every call).

use pingora::prelude::*;

/// The boxed future a Pingora hook returns (what `async_trait` makes of an `async fn`).
pub type Hook<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A hook method written without `async fn`: the signature `async_trait` gives the trait's
/// method (each borrow its own lifetime, all outliving the returned future), with `$body`
/// answering a [`Hook`] of `$out`. The lifetimes are named by the caller, one per borrow.
macro_rules! hook {
    (
        fn $name:ident<$($l:lifetime),+>(&$sl:lifetime $self:ident $(, $arg:ident: $ty:ty)* $(,)?)
            -> $out:ty $body:block
    ) => {
        fn $name<$($l,)+ 'async_trait>(&$sl $self $(, $arg: $ty)*)
            -> $crate::proxy::ready::Hook<'async_trait, $out>
        where
            $($l: 'async_trait,)+
            Self: 'async_trait,
        $body
    };
}
pub(crate) use hook;

/// A hook's answer, ready at once: zero-sized (nothing allocated) when it is `Ok(())`.
pub fn done(r: Result<()>) -> Hook<'static, Result<()>> {
    match r {
        Ok(()) => Box::pin(ReadyOk),
        Err(e) => Box::pin(std::future::ready(Err(e))),
    }
}

/// `request_filter`'s "go on to the upstream" (`Ok(false)`), ready at once; nothing allocated.
pub fn proceed() -> Hook<'static, Result<bool>> {
    Box::pin(Proceed)
}

/// A future ready at once with `Ok(false)`; zero-sized.
struct Proceed;

impl std::future::Future for Proceed {
    type Output = Result<bool>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<bool>> {
        std::task::Poll::Ready(Ok(false))
    }
}

/// A future ready at once with `Ok(())`; zero-sized.
struct ReadyOk;

impl std::future::Future for ReadyOk {
    type Output = Result<()>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A future ready at once with `()`; zero-sized.
pub struct Ready;

impl std::future::Future for Ready {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}
