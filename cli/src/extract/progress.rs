//! The progress display: an indicatif bar on a terminal, plain periodic lines otherwise, and
//! the final summary.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use paceline_ureq::Client;

use super::stats::Stats;

/// How the display looks at the limits: the tightest `--rate` (requests per second and how it
/// was written) and the first quota's size and text.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub rate: Option<(f64, String)>,
    pub quota: Option<(u64, String)>,
    /// Where the quota's use is kept between runs.
    pub quota_state: Option<std::path::PathBuf>,
    /// The host whose breaker the progress line shows (`host[:port]`).
    pub host: String,
    /// How long an outage is sat through (`--max-outage`).
    pub max_outage: Duration,
}

/// What one look at the counters shows.
struct Snapshot {
    records: u64,
    pages: u64,
    rate: f64,
    throttled: u64,
    retries: u64,
    waiting: Duration,
    quota_used: Option<u64>,
    quota_crossed_permille: u64,
    server_window: Option<(u64, u64)>,
    /// The host's breaker, when it is not closed, and how long until its next probe.
    breaker: Option<(paceline::breaker::State, Option<Duration>)>,
}

fn snapshot(stats: &Stats, client: &Client, limits: &Limits, rate: f64) -> Snapshot {
    let now = super::clock();
    let (status, breaker) = client.with_pacer(|p| {
        let breaker = p
            .breaker_state(&limits.host)
            .filter(|s| *s != paceline::breaker::State::Closed)
            .map(|s| {
                let probe = p
                    .breaker_open_until(&limits.host)
                    .map(|t| t.saturating_duration_since(now.mono));
                (s, probe)
            });
        (p.status(now), breaker)
    });
    let quota_used = limits.quota.as_ref().and_then(|(count, _)| {
        status
            .quota_remaining
            .map(|left| count.saturating_sub(left))
    });
    Snapshot {
        records: stats.records.load(Relaxed),
        pages: stats.pages.load(Relaxed),
        rate,
        throttled: stats.throttled.load(Relaxed),
        retries: stats.retries.load(Relaxed),
        waiting: stats.waiting(),
        quota_used,
        quota_crossed_permille: stats.quota_crossed_permille.load(Relaxed),
        server_window: status.window_remaining.zip(status.window_limit),
        breaker,
    }
}

fn describe(s: &Snapshot, limits: &Limits) -> String {
    let mut line = format!("{} pages · {:.1} req/s", s.pages, s.rate);
    if let Some((_, text)) = &limits.rate {
        line += &format!(" (limit {text})");
    }
    if let Some((left, limit)) = s.server_window {
        line += &format!(" · server window {left}/{limit} left");
    }
    line += &format!(
        " · waited {:.1} s · {} × 429 · {} retries",
        s.waiting.as_secs_f64(),
        s.throttled,
        s.retries
    );
    match s.breaker {
        Some((paceline::breaker::State::Open, Some(probe))) => {
            line += &format!(
                " · breaker open, probing in {:.0} s",
                probe.as_secs_f64().ceil()
            );
        }
        Some((paceline::breaker::State::Isolated, _)) => line += " · breaker isolated",
        Some(_) => line += " · breaker probing",
        None => {}
    }
    if let (Some(used), Some((count, text))) = (s.quota_used, &limits.quota) {
        line += &format!(" · quota {used}/{count} ({text})");
        if s.quota_crossed_permille > 0 {
            line += &format!(" past {:.0} %", s.quota_crossed_permille as f64 / 10.0);
        }
    }
    line
}

/// The running display; [`Display::finish`] stops it.
pub struct Display {
    stop: Arc<(Mutex<bool>, Condvar)>,
    bar: Option<ProgressBar>,
    pub(crate) finished: Arc<AtomicBool>,
}

impl Display {
    /// Starts the display thread inside `scope`: a bar when `terminal`, else a line every
    /// `interval`.
    pub fn start<'s, 'e: 's>(
        scope: &'s std::thread::Scope<'s, 'e>,
        stats: &'e Arc<Stats>,
        client: &'e Client,
        limits: &'e Limits,
        terminal: bool,
        interval: Duration,
    ) -> Display {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(unknown_style());
            bar
        });
        let tick = if terminal {
            Duration::from_millis(200)
        } else {
            interval
        };
        let thread_stop = Arc::clone(&stop);
        let thread_bar = bar.clone();
        scope.spawn(move || {
            let (lock, cvar) = &*thread_stop;
            let mut last = (Instant::now(), stats.requests.load(Relaxed));
            let mut total_known = false;
            loop {
                let stopped = cvar
                    .wait_timeout_while(
                        lock.lock().unwrap_or_else(PoisonError::into_inner),
                        tick,
                        |s| !*s,
                    )
                    .unwrap_or_else(PoisonError::into_inner);
                if *stopped.0 {
                    return;
                }
                drop(stopped);
                let now = (Instant::now(), stats.requests.load(Relaxed));
                let dt = now.0.duration_since(last.0).as_secs_f64();
                let rate = if dt > 0.0 {
                    (now.1 - last.1) as f64 / dt
                } else {
                    0.0
                };
                last = now;
                let snap = snapshot(stats, client, limits, rate);
                let line = describe(&snap, limits);
                match &thread_bar {
                    Some(bar) => {
                        let total = stats.total.load(Relaxed);
                        if total > 0 && !total_known {
                            total_known = true;
                            bar.set_length(total);
                            bar.set_style(known_style());
                        }
                        bar.set_position(snap.records);
                        bar.set_message(line);
                    }
                    None => {
                        let mut err = std::io::stderr().lock();
                        let _ = writeln!(
                            err,
                            "paceline extract: {} records · {line} · {:.0} s",
                            snap.records,
                            stats.started.elapsed().as_secs_f64()
                        );
                    }
                }
            }
        });
        Display {
            stop,
            bar,
            finished: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stops the display and clears the bar.
    pub fn finish(&self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cvar.notify_all();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.finished.store(true, Relaxed);
    }
}

fn unknown_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {elapsed_precise} {pos} records · {wide_msg}")
        .expect("a valid template")
}

fn known_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{bar:25}] {pos}/{len} records, ETA {eta} · {wide_msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ")
}

/// The summary printed at the end (to stderr), whatever the outcome.
pub fn summary(
    stats: &Stats,
    client: Option<&Client>,
    limits: &Limits,
    outcome: &str,
    checkpoint: Option<&std::path::Path>,
) -> String {
    let records = stats.records.load(Relaxed);
    let resumed = stats.resumed_records.load(Relaxed);
    let mut s = format!(
        "paceline extract: {outcome}\n  records    {records} this run{}\n  pages      {}\n  \
         duration   {:.1} s\n  requests   {}\n  429s       {}\n  retries    {}\n  errors     {} \
         (5xx and transport)\n  timeouts   {} (of the errors)\n  waited     {:.1} s on limits and \
         backoff\n",
        if resumed > 0 {
            format!(" ({} in the file)", records + resumed)
        } else {
            String::new()
        },
        stats.pages.load(Relaxed),
        stats.started.elapsed().as_secs_f64(),
        stats.requests.load(Relaxed),
        stats.throttled.load(Relaxed),
        stats.retries.load(Relaxed),
        stats.errors(),
        stats.timeouts.load(Relaxed),
        stats.waiting().as_secs_f64(),
    );
    if let Some((count, text)) = &limits.quota {
        let used = client.and_then(|c| snapshot(stats, c, limits, 0.0).quota_used);
        let mut line = match used {
            Some(used) => format!("  quota      {used} of {count} used this period ({text}"),
            None => format!("  quota      ({text}"),
        };
        let permille = stats.quota_crossed_permille.load(Relaxed);
        if permille > 0 {
            line += &format!("; past {:.0} %", permille as f64 / 10.0);
        }
        match &limits.quota_state {
            Some(path) => line += &format!("; kept in {})\n", path.display()),
            None => line += "; not kept between runs)\n",
        }
        s += &line;
    }
    match checkpoint {
        Some(path) => s += &format!("  checkpoint {}\n", path.display()),
        None => s += "  checkpoint none (no --checkpoint or --output)\n",
    }
    s
}
