//! The async store, for `paceline-async`'s [`Client`](paceline_async::Client).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use paceline::shared::{BucketState, Reply, Reservation, SharedSignal};
use redis::aio::MultiplexedConnection;

use crate::common::{self, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::error::StoreError;
use crate::script;

/// Shared budgets in Redis, over one multiplexed async connection: the store for
/// [`paceline_async::ClientBuilder::shared_store`].
///
/// The `redis` crate's async connections run on tokio or, with its `smol-comp` feature (the
/// one this crate enables), on smol's reactor: async-io, the same one `paceline-async` runs
/// on, so this store works under smol, async-std or any executor without a tokio runtime.
/// (The connection's driver task goes to smol's global executor, which starts its own
/// thread.) Many tasks share the one connection, their commands pipelined; a connection that
/// fails is dropped and the next call connects afresh. Nothing connects before the first
/// call.
pub struct AsyncRedisStore {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for AsyncRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AsyncRedisStore {
    /// A store on the Redis server at `url` (`redis://host:port/db`), with the default
    /// timeout ([`DEFAULT_TIMEOUT`]) and key prefix ([`DEFAULT_PREFIX`]). Does not connect.
    ///
    /// # Errors
    /// [`StoreError::Server`] when the URL is not one the `redis` crate reads.
    pub fn open(url: &str) -> Result<AsyncRedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::Server)?;
        Ok(AsyncRedisStore {
            client,
            conn: Mutex::new(None),
            script: redis::Script::new(script::LUA),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long one call may take (connecting, or sending and reading the answer).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the prefix of every bucket's Redis key.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Asks for a reservation's tokens.
    ///
    /// # Errors
    /// [`StoreError::Unreachable`] when Redis cannot be reached in time; the others when it
    /// refuses or answers nonsense.
    pub async fn try_reserve(&self, r: &Reservation) -> Result<Reply, StoreError> {
        let mut conn = self.connection().await?;
        let call = common::reserve_call(&self.script, &self.prefix, r);
        let answer: Vec<i64> = self.checked(call.invoke_async(&mut conn).await)?;
        script::reply(&answer).ok_or_else(|| StoreError::Unexpected(format!("{answer:?}")))
    }

    /// Publishes a signal to every sharer of its bucket.
    ///
    /// # Errors
    /// As [`AsyncRedisStore::try_reserve`].
    pub async fn try_publish(&self, s: &SharedSignal) -> Result<(), StoreError> {
        let Some(call) = common::signal_call(&self.script, &self.prefix, s) else {
            return Ok(());
        };
        let mut conn = self.connection().await?;
        let _: Vec<i64> = self.checked(call.invoke_async(&mut conn).await)?;
        Ok(())
    }

    /// The state of bucket `key`, if it exists (for inspection and tests).
    ///
    /// # Errors
    /// As [`AsyncRedisStore::try_reserve`].
    pub async fn bucket(&self, key: &str) -> Result<Option<BucketState>, StoreError> {
        let mut conn = self.connection().await?;
        let fields: Vec<Option<u64>> = self.checked(
            redis::cmd("HMGET")
                .arg(common::redis_key(&self.prefix, key))
                .arg("tu")
                .arg("tf")
                .arg("p")
                .query_async(&mut conn)
                .await,
        )?;
        Ok(script::state(&fields))
    }

    /// The shared connection, opened if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(c) = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(c);
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(StoreError::from_redis)?;
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    /// Drops the shared connection after a failure that leaves it in doubt.
    fn checked<T>(&self, result: redis::RedisResult<T>) -> Result<T, StoreError> {
        result.map_err(|e| {
            let e = StoreError::from_redis(e);
            if e.drops_connection() {
                *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            e
        })
    }
}

impl paceline_async::SharedStore for AsyncRedisStore {
    fn reserve<'a>(
        &'a self,
        reservation: &'a Reservation,
    ) -> paceline_async::StoreFuture<'a, Reply> {
        Box::pin(async move {
            self.try_reserve(reservation).await.unwrap_or_else(|e| {
                tracing::debug!(key = %reservation.key, error = %e, "paceline-redis: reservation failed");
                Reply::Unreachable
            })
        })
    }

    fn publish<'a>(&'a self, signal: &'a SharedSignal) -> paceline_async::StoreFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.try_publish(signal).await {
                tracing::warn!(error = %e, "paceline-redis: a signal was not published");
            }
        })
    }
}
