//! # paceline-redis
//!
//! One budget for many processes and machines: a [`paceline::Pacer`] whose
//! [`SharedBudget`](paceline::shared::SharedBudget) lives in Redis. Every process calling an
//! API with the same key asks the same bucket before each request, so together they stay
//! under the limit that a local bucket in each would overrun `n` times.
//!
//! - The core decides ([`paceline::shared`]): before each attempt the Pacer says
//!   [`paceline::Begin::Reserve`], "ask the store for N tokens of bucket B"; the client asks
//!   this crate's store and feeds the answer back; the core then waits for the turn or asks
//!   again. The core stays sans-IO.
//! - The store ([`RedisStore`], blocking, for `paceline-ureq`; [`AsyncRedisStore`], for
//!   `paceline-async`) runs one Lua script ([`LUA`]) atomically, called with `EVALSHA` and
//!   loaded once per server: the core's GCRA arithmetic step for step, on Redis's own clock
//!   (`TIME`), so clients whose clocks disagree share one timeline. A turn at most
//!   [`max_ahead`](paceline::shared::SharedBudget::max_ahead) away is reserved at once: one
//!   round trip per request. Keys expire a second after the bucket is full again: idle
//!   buckets disappear.
//! - Signals are shared: a `Retry-After` or an exhausted window one process sees pauses the
//!   bucket for all of them.
//! - When Redis cannot be reached, the budget's
//!   [`OnUnreachable`](paceline::shared::OnUnreachable) decides: wait for it (fail closed, the
//!   default) or draw from a local bucket with a fraction of the rate (fail open). The
//!   Pacer's events say which ([`paceline::Event::SharedUnreachable`], then
//!   [`paceline::Event::SharedRecovered`]).
//!
//! ```
//! use paceline::PacerConfig;
//! use paceline::shared::{OnUnreachable, SharedBudget};
//! use paceline::throttle::Limit;
//! use paceline_redis::{BudgetUrl, RedisStore};
//!
//! // Four processes, each with this code, share 100 requests a second.
//! let at: BudgetUrl = "redis://127.0.0.1:6379/api-key-1".parse()?;
//! let budget = SharedBudget::new(&at.key, Limit::per_second(100).burst(10))
//!     // Redis down: each process goes on at a quarter of the rate.
//!     .on_unreachable(OnUnreachable::Local { fraction: 0.25 });
//! let store = RedisStore::open(&at.connection)?; // connects on first use
//! let client = paceline_ureq::Client::new(PacerConfig::default().shared(budget))
//!     .shared_store(store);
//! // client.get("https://api.example.com/items") now asks Redis before each attempt.
//! # drop(client);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The async store, under smol (or async-std):
//!
//! ```no_run
//! use paceline::PacerConfig;
//! use paceline::shared::SharedBudget;
//! use paceline::throttle::Limit;
//! use paceline_redis::AsyncRedisStore;
//!
//! let budget = SharedBudget::new("api-key-1", Limit::per_second(100));
//! let client = paceline_async::Client::builder(PacerConfig::default().shared(budget))
//!     .shared_store(AsyncRedisStore::open("redis://127.0.0.1:6379/0")?)
//!     .build();
//! smol::block_on(async {
//!     let response = client.get("https://api.example.com/items").await?;
//!     println!("{}", response.status());
//!     Ok::<(), paceline_async::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Figures
//!
//! `adapters/redis/NOTES.md` has them: four processes of eight workers sharing 100 req/s,
//! Redis killed mid-run, and the reservation's latency (`cargo bench -p paceline-redis`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "blocking")]
mod blocking;
mod common;
mod error;
#[cfg(feature = "async")]
mod nonblocking;
mod script;
mod url;

#[cfg(feature = "blocking")]
pub use blocking::RedisStore;
pub use common::{DEFAULT_PREFIX, DEFAULT_TIMEOUT};
pub use error::{StoreError, UrlError};
#[cfg(feature = "async")]
pub use nonblocking::AsyncRedisStore;
pub use script::LUA;
pub use url::BudgetUrl;
