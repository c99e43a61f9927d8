//! Recognising a field by the shape of its name: which field a `PREFIX-RateLimit-WORDS` name
//! is (limit, remaining, reset...), its unit, its policy and window words.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    Limit,
    Remaining,
    Reset,
    Used,
    Window,
    Next,
}

/// What a field name says: which field, its unit, and the policy words.
#[derive(Debug)]
pub(super) struct Shape<'n> {
    pub(super) word: Option<Word>,
    pub(super) millis: bool,
    pub(super) policy: Vec<&'n str>,
    pub(super) window: Option<Duration>,
}

pub(super) fn window_word(w: &str) -> Option<Duration> {
    Some(Duration::from_secs(match w {
        "second" | "seconds" | "secondly" => 1,
        "minute" | "minutes" | "minutely" => 60,
        "hour" | "hours" | "hourly" => 3600,
        "day" | "days" | "daily" => 86_400,
        "month" | "monthly" => 30 * 86_400,
        _ => return None,
    }))
}

pub(super) fn shape(rest: &str) -> Shape<'_> {
    let mut s = Shape {
        word: None,
        millis: false,
        policy: Vec::new(),
        window: None,
    };
    for w in rest.split('-').filter(|w| !w.is_empty()) {
        let word = match w {
            "limit" | "max" | "quota" => Some(Word::Limit),
            "remaining" | "left" => Some(Word::Remaining),
            "reset" => Some(Word::Reset),
            "used" | "observed" => Some(Word::Used),
            "interval" | "window" | "period" => Some(Word::Window),
            "next" => Some(Word::Next),
            "ms" | "milliseconds" => {
                s.millis = true;
                None
            }
            // `interval-seconds`: the unit, not a policy.
            "seconds" if s.word.is_some() => None,
            // BigCommerce's `time-reset-ms`, Composio's `window-size`, agent.ai's
            // `reset-date`: these say nothing more.
            "time" | "size" | "date" => None,
            _ => {
                s.policy.push(w);
                s.window = s.window.or(window_word(w));
                None
            }
        };
        if s.word.is_none() {
            s.word = word;
        }
    }
    if s.word.is_none() && s.window.is_some() {
        // `X-HubSpot-RateLimit-Daily: 250000`: the daily policy's limit.
        s.word = Some(Word::Limit);
    }
    s
}

/// Splits `x-sib-ratelimit-limit` into (`x-sib-`, `-limit`).
pub(super) fn split_name(n: &str) -> Option<(&str, &str)> {
    for key in ["ratelimit", "rate-limit"] {
        if let Some(i) = n.find(key) {
            return Some((&n[..i], &n[i + key.len()..]));
        }
    }
    None
}

/// Whether the fixed families read this name already (`X-RateLimit-*` and `X-Rate-Limit-*`
/// with a known suffix, the IETF names).
pub(super) fn fixed(n: &str) -> bool {
    let known = |rest: &str| crate::headers::fields::X_SUFFIXES.contains(&rest);
    n.strip_prefix("x-ratelimit-").is_some_and(known)
        || n.strip_prefix("x-rate-limit-").is_some_and(known)
        || matches!(
            n,
            "ratelimit"
                | "ratelimit-policy"
                | "ratelimit-limit"
                | "ratelimit-remaining"
                | "ratelimit-reset"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let w = |r: &str| shape(r).word;
        assert_eq!(w("-limit"), Some(Word::Limit));
        assert_eq!(w("-requests-left"), Some(Word::Remaining));
        assert_eq!(w("-limit-requests"), Some(Word::Limit));
        assert_eq!(w("-daily"), Some(Word::Limit));
        assert_eq!(w("-concurrentlimit"), None);
        let sh = shape("-time-reset-ms");
        assert_eq!((sh.word, sh.millis), (Some(Word::Reset), true));
        assert!(sh.policy.is_empty());
        let sh = shape("-remaining-day");
        assert_eq!(sh.policy, ["day"]);
        assert_eq!(sh.window, Some(Duration::from_secs(86_400)));
        assert_eq!(
            split_name("x-sib-ratelimit-limit"),
            Some(("x-sib-", "-limit"))
        );
        assert_eq!(split_name("x-rate-limit"), Some(("x-", "")));
        assert!(fixed("x-ratelimit-reset-after"));
        assert!(fixed("ratelimit-reset"));
        assert!(!fixed("rate-limit-reset"));
        assert!(!fixed("x-ratelimit-requests-limit"));
    }
}
