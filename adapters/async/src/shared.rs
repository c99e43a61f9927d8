//! Where a shared budget lives: the store [`Client`](crate::Client) asks when the Pacer says
//! [`paceline::Begin::Reserve`] (see [`paceline::shared`]). `paceline-redis` provides one.

use std::future::Future;
use std::pin::Pin;

use paceline::shared::{Reply, Reservation, SharedSignal};

/// A boxed future, `Send`, as [`SharedStore`]'s methods return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store of shared budgets, asked by the client's tasks (never under the Pacer's lock).
///
/// An implementation answers within its own timeout: a store it cannot reach is
/// [`Reply::Unreachable`] (its error logged by the store), and the Pacer applies the budget's
/// [`OnUnreachable`](paceline::shared::OnUnreachable) mode. The futures must not need a
/// particular runtime beyond what the client's own I/O needs (async-io).
pub trait SharedStore: Send + Sync {
    /// Asks for the tokens of `reservation` (atomically, on the store's clock).
    fn reserve<'a>(&'a self, reservation: &'a Reservation) -> StoreFuture<'a, Reply>;

    /// Publishes a signal to every sharer (best effort: a failure is the store's to log).
    fn publish<'a>(&'a self, signal: &'a SharedSignal) -> StoreFuture<'a, ()>;
}
