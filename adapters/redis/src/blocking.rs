//! The blocking store, for `paceline-ureq`'s [`Client`](paceline_ureq::Client).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use paceline::shared::{BucketState, Reply, Reservation, SharedSignal};

use crate::common::{self, DEFAULT_PREFIX, DEFAULT_TIMEOUT};
use crate::error::StoreError;
use crate::script;

/// Connections kept open for reuse, at most: one per thread that asks at once, up to this.
const MAX_IDLE: usize = 16;

/// Shared budgets in Redis, over blocking connections: the store for
/// [`paceline_ureq::Client::shared_store`].
///
/// Each call takes an idle connection (or opens one, within the [timeout](Self::timeout)),
/// runs the script with `EVALSHA` (loading it first on a server that does not know it: a
/// new or restarted one), and puts the connection back; a connection that failed is dropped,
/// and the next call connects afresh. Nothing connects before the first call: a process may
/// start while Redis is down.
pub struct RedisStore {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis server at `url` (`redis://host:port/db`, as the `redis` crate
    /// reads it), with the default timeout ([`DEFAULT_TIMEOUT`]) and key prefix
    /// ([`DEFAULT_PREFIX`]). Does not connect.
    ///
    /// # Errors
    /// [`StoreError::Server`] when the URL is not one the `redis` crate reads.
    pub fn open(url: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::Server)?;
        Ok(RedisStore {
            client,
            idle: Mutex::new(Vec::new()),
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
    pub fn try_reserve(&self, r: &Reservation) -> Result<Reply, StoreError> {
        let call = common::reserve_call(&self.script, &self.prefix, r);
        let answer: Vec<i64> = self.with_connection(|c| call.invoke(c))?;
        script::reply(&answer).ok_or_else(|| StoreError::Unexpected(format!("{answer:?}")))
    }

    /// Publishes a signal to every sharer of its bucket.
    ///
    /// # Errors
    /// As [`RedisStore::try_reserve`].
    pub fn try_publish(&self, s: &SharedSignal) -> Result<(), StoreError> {
        let Some(call) = common::signal_call(&self.script, &self.prefix, s) else {
            return Ok(());
        };
        let _: Vec<i64> = self.with_connection(|c| call.invoke(c))?;
        Ok(())
    }

    /// The state of bucket `key` and its time to live, if it exists (for inspection and
    /// tests).
    ///
    /// # Errors
    /// As [`RedisStore::try_reserve`].
    pub fn bucket(&self, key: &str) -> Result<Option<(BucketState, Duration)>, StoreError> {
        let name = common::redis_key(&self.prefix, key);
        let (fields, ttl_ms): (Vec<Option<u64>>, i64) = self.with_connection(|c| {
            redis::pipe()
                .cmd("HMGET")
                .arg(&name)
                .arg("tu")
                .arg("tf")
                .arg("p")
                .cmd("PTTL")
                .arg(&name)
                .query(c)
        })?;
        Ok(script::state(&fields)
            .map(|s| (s, Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)))))
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match taken {
            Some(c) => c,
            None => self.connect()?,
        };
        match f(&mut conn) {
            Ok(v) => {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
                Ok(v)
            }
            Err(e) => {
                let e = StoreError::from_redis(e);
                if !e.drops_connection() {
                    let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                    idle.push(conn);
                } else {
                    // Its siblings were opened to the same server: if it went away, they
                    // are dead too.
                    self.idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                }
                Err(e)
            }
        }
    }

    fn connect(&self) -> Result<redis::Connection, StoreError> {
        let conn = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(StoreError::from_redis)?;
        conn.set_read_timeout(Some(self.timeout))
            .and_then(|()| conn.set_write_timeout(Some(self.timeout)))
            .map_err(StoreError::from_redis)?;
        Ok(conn)
    }
}

impl paceline_ureq::SharedStore for RedisStore {
    fn reserve(&self, reservation: &Reservation) -> Reply {
        self.try_reserve(reservation).unwrap_or_else(|e| {
            tracing::debug!(key = %reservation.key, error = %e, "paceline-redis: reservation failed");
            Reply::Unreachable
        })
    }

    fn publish(&self, signal: &SharedSignal) {
        if let Err(e) = self.try_publish(signal) {
            tracing::warn!(error = %e, "paceline-redis: a signal was not published");
        }
    }
}
