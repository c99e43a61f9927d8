//! What the blocking and async stores share: configuration, key names, the script's calls.

use std::time::Duration;

use paceline::shared::{Reservation, SharedSignal};

use crate::script;

/// How long one store call may take by default (connect, or send and answer): 500 ms. A
/// store on the same network answers in well under a millisecond; past this, it is
/// unreachable, and the budget's failure mode applies.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The prefix of every bucket's Redis key by default: `paceline:`.
pub const DEFAULT_PREFIX: &str = "paceline:";

/// The Redis key of a bucket.
pub(crate) fn redis_key(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}")
}

/// The script invocation for a reservation.
pub(crate) fn reserve_call<'a>(
    script: &'a redis::Script,
    prefix: &str,
    r: &Reservation,
) -> redis::ScriptInvocation<'a> {
    let mut call = script.prepare_invoke();
    call.key(redis_key(prefix, &r.key)).arg("r");
    for a in script::reserve_args(r) {
        call.arg(a);
    }
    call
}

/// The script invocation for a signal.
pub(crate) fn signal_call<'a>(
    script: &'a redis::Script,
    prefix: &str,
    s: &SharedSignal,
) -> Option<redis::ScriptInvocation<'a>> {
    match s {
        SharedSignal::Pause { key, wait } => {
            let mut call = script.prepare_invoke();
            call.key(redis_key(prefix, key))
                .arg("p")
                .arg(script::pause_arg(*wait));
            Some(call)
        }
        _ => None,
    }
}
