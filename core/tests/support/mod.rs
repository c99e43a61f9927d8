//! What several of the core's test binaries share.

use paceline::{Begin, Call, Now, Pacer};

/// Sends `call` as soon as the Pacer allows (waiting in virtual time); returns when it went.
pub fn send_when_allowed(p: &mut Pacer, call: &mut Call, mut now: Now) -> Now {
    for _ in 0..10_000 {
        match p.poll_send(call, now) {
            Begin::Send => return now,
            Begin::Wait(t) => now = now.at(t),
            other => panic!("{other:?}"),
        }
    }
    panic!("never admitted")
}
