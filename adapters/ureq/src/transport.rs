//! What a ureq failure means to the Pacer: a request the caller got wrong, or a transport error
//! of some kind, sent or not.
//!
//! The rules (when in doubt, the request counts as sent, so a POST is not done twice):
//!
//! | ureq error | meaning |
//! | --- | --- |
//! | `BadUri`, `Http`, `InvalidProxyUrl`, `RequireHttpsOnly` | the caller's request is invalid: [`Failure::Invalid`] |
//! | `HostNotFound`, `ConnectionFailed`, io `ConnectionRefused` | `Connect`, before sending |
//! | `Timeout(Resolve)`, `Timeout(Connect)` | `Timeout`, before sending |
//! | any other `Timeout`, io `TimedOut`/`WouldBlock` | `Timeout`, after sending |
//! | io `ConnectionReset`/`ConnectionAborted`/`UnexpectedEof`/`BrokenPipe` (ureq's "peer disconnected") | `Reset`, after sending |
//! | io `NetworkUnreachable`/`HostUnreachable`/`NetworkDown` | `Connect`, after sending: Linux reports an ICMP error on an established connection this way too |
//! | anything else (TLS, a protocol error, too many redirects, a body over the limit) | `Other`, after sending: never retried |

use std::io;

use paceline::retry::{TransportError, TransportKind};
use ureq::Timeout;

/// A failed attempt, sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The request cannot be built or sent at all: the caller's fault, never retried, not told
    /// to the Pacer.
    Invalid,
    /// No response: told to the Pacer.
    Transport(TransportError),
}

/// Sorts an error from `Agent::run` (connecting, sending, receiving the response head).
pub(crate) fn classify_run_error(error: &ureq::Error) -> Failure {
    match error {
        ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::RequireHttpsOnly(_) => Failure::Invalid,
        other => Failure::Transport(transport_error(other)),
    }
}

/// The transport error a ureq error stands for (also used for errors reading a body, which can
/// never be the caller's fault).
pub(crate) fn transport_error(error: &ureq::Error) -> TransportError {
    use TransportKind::{Connect, Other};
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            TransportError::before_send(Connect)
        }
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => {
            TransportError::before_send(TransportKind::Timeout)
        }
        ureq::Error::Timeout(_) => TransportError::after_send(TransportKind::Timeout),
        ureq::Error::Io(e) => io_error(e),
        _ => TransportError::after_send(Other),
    }
}

fn io_error(e: &io::Error) -> TransportError {
    // ureq wraps its own errors in io errors when they cross a `Read`.
    if let Some(inner) = e.get_ref().and_then(|r| r.downcast_ref::<ureq::Error>()) {
        return transport_error(inner);
    }
    TransportError::from_io(e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> ureq::Error {
        ureq::Error::Io(io::Error::from(kind))
    }

    #[test]
    fn refused_and_dns_never_left() {
        for e in [
            io(io::ErrorKind::ConnectionRefused),
            ureq::Error::HostNotFound,
            ureq::Error::ConnectionFailed,
        ] {
            assert_eq!(
                classify_run_error(&e),
                Failure::Transport(TransportError::before_send(TransportKind::Connect)),
                "{e}"
            );
        }
        assert_eq!(
            transport_error(&ureq::Error::Timeout(Timeout::Connect)),
            TransportError::before_send(TransportKind::Timeout)
        );
    }

    #[test]
    fn doubt_means_sent() {
        assert_eq!(
            transport_error(&ureq::Error::Timeout(Timeout::RecvResponse)),
            TransportError::after_send(TransportKind::Timeout)
        );
        // The timers the client sets: idle (per read, per write) and the attempt (per call).
        for timer in [
            Timeout::Global,
            Timeout::PerCall,
            Timeout::PerRead,
            Timeout::PerWrite,
        ] {
            assert_eq!(
                transport_error(&ureq::Error::Timeout(timer)),
                TransportError::after_send(TransportKind::Timeout),
                "{timer}"
            );
        }
        assert_eq!(
            transport_error(&ureq::Error::Timeout(Timeout::Resolve)),
            TransportError::before_send(TransportKind::Timeout)
        );
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::BrokenPipe,
        ] {
            assert_eq!(
                transport_error(&io(kind)),
                TransportError::after_send(TransportKind::Reset)
            );
        }
        assert_eq!(
            transport_error(&io(io::ErrorKind::HostUnreachable)),
            TransportError::after_send(TransportKind::Connect)
        );
        assert_eq!(
            transport_error(&ureq::Error::TooManyRedirects),
            TransportError::after_send(TransportKind::Other)
        );
        assert_eq!(
            transport_error(&ureq::Error::BodyExceedsLimit(10)),
            TransportError::after_send(TransportKind::Other)
        );
    }

    #[test]
    fn wrapped_ureq_errors_are_unwrapped() {
        let wrapped = ureq::Error::Io(io::Error::other(ureq::Error::Timeout(Timeout::RecvBody)));
        assert_eq!(
            transport_error(&wrapped),
            TransportError::after_send(TransportKind::Timeout)
        );
    }

    #[test]
    fn the_callers_mistakes_are_invalid() {
        assert_eq!(
            classify_run_error(&ureq::Error::BadUri("x".into())),
            Failure::Invalid
        );
        assert_eq!(
            classify_run_error(&ureq::Error::RequireHttpsOnly("http://x".into())),
            Failure::Invalid
        );
    }
}
