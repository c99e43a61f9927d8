//! `--shared-budget redis://HOST:PORT/KEY`: the `--rate` kept in Redis, shared with every
//! other process given the same URL (see `paceline-redis`).

use paceline::shared::{OnUnreachable, SharedBudget};
use paceline::throttle::Limit;
use paceline_redis::{BudgetUrl, RedisStore};

/// The shared budget and its store: `rate` (the one `--rate` under a day, paced a hair under
/// as a local one is) under the URL's key; failing open to `fail_open` of it, if given.
pub(super) fn shared(
    url: &str,
    rate: &[Limit],
    fail_open: Option<f64>,
) -> Result<(SharedBudget, RedisStore), String> {
    let at: BudgetUrl = url
        .parse()
        .map_err(|e| format!("--shared-budget {url}: {e}"))?;
    let [limit] = rate else {
        return Err(format!(
            "--shared-budget shares one --rate: give exactly one under a day (given {})",
            rate.len()
        ));
    };
    let on_unreachable = match fail_open {
        None => OnUnreachable::Wait,
        Some(fraction) => OnUnreachable::Local { fraction },
    };
    let budget = SharedBudget::new(&at.key, limit.with_margin()).on_unreachable(on_unreachable);
    budget
        .validate()
        .map_err(|e| format!("--shared-budget: {e}"))?;
    let store = RedisStore::open(&at.connection).map_err(|e| format!("--shared-budget: {e}"))?;
    Ok((budget, store))
}
