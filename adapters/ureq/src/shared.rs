//! Where a shared budget lives: the store [`Client`](crate::Client) asks when the Pacer says
//! [`paceline::Begin::Reserve`] (see [`paceline::shared`]). `paceline-redis` provides one.

use paceline::shared::{Reply, Reservation, SharedSignal};

/// A store of shared budgets, asked by the client's threads (never under the Pacer's lock).
///
/// An implementation answers within its own timeout: a store it cannot reach is
/// [`Reply::Unreachable`] (its error logged by the store), and the Pacer applies the budget's
/// [`OnUnreachable`](paceline::shared::OnUnreachable) mode.
pub trait SharedStore: Send + Sync {
    /// Asks for the tokens of `reservation` (atomically, on the store's clock).
    fn reserve(&self, reservation: &Reservation) -> Reply;

    /// Publishes a signal to every sharer (best effort: a failure is the store's to log).
    fn publish(&self, signal: &SharedSignal);
}

impl<S: SharedStore + ?Sized> SharedStore for std::sync::Arc<S> {
    fn reserve(&self, reservation: &Reservation) -> Reply {
        (**self).reserve(reservation)
    }

    fn publish(&self, signal: &SharedSignal) {
        (**self).publish(signal)
    }
}
