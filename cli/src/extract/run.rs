//! One extract's run: resuming from the checkpoint, the page loop, and how it ended (the exit
//! code and what the summary says).

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use paceline::paginate::{Checkpoint, PageSpec, RequestTemplate};
use paceline_ureq::{Client, PageOptions, PagesError, Resume};

use super::interrupt::{self, Interrupt};
use super::output::Output;
use super::state::{self, StateFlush, StateStore};
use super::stats::{self, Stats};
use super::units::ByteSize;
use super::{Job, QuotaState, clock, code, progress};

/// Runs a job to its end: the exit code and how many records were written this run.
pub fn execute(job: Job) -> (u8, u64) {
    let Job {
        client,
        spec,
        hints,
        template,
        guards,
        output,
        checkpoint,
        resume,
        limits,
        stats,
        progress_interval,
        terminal,
        concurrency,
        quota_state,
    } = job;
    let fail = |msg: String, code: u8| {
        eprintln!("paceline extract: {msg}");
        (code, 0)
    };

    // The state to resume from, and the output cut back to what it covers.
    let saved = match &checkpoint {
        Some(path) => match state::load(path) {
            Ok(saved) => saved,
            Err(msg) => return fail(msg, code::BAD_INPUT),
        },
        None => None,
    };
    let mut saved = match (saved, resume) {
        (Some(saved), true) => Some(saved),
        (None, true) => {
            let path = checkpoint.as_deref().unwrap_or(Path::new("?"));
            return fail(
                format!("--resume: no checkpoint at {}", path.display()),
                code::BAD_INPUT,
            );
        }
        (Some(_), false) => {
            let path = checkpoint.as_deref().unwrap_or(Path::new("?"));
            return fail(
                format!(
                    "{} exists: pass --resume to go on from it, or remove it to start over",
                    path.display()
                ),
                code::BAD_INPUT,
            );
        }
        (None, false) => None,
    };
    if let Some(saved) = &saved {
        if saved.output != output {
            return fail(
                format!(
                    "the checkpoint was written for output {:?}, not {:?}",
                    saved.output, output
                ),
                code::BAD_INPUT,
            );
        }
        if let Ok(cp) = Checkpoint::from_bytes(&saved.checkpoint) {
            stats.resumed_records.store(cp.records(), Relaxed);
        }
    }
    let keep = saved.as_ref().map_or(0, |s| s.output_bytes);
    let breakers = saved
        .as_mut()
        .map(|s| std::mem::take(&mut s.breakers))
        .unwrap_or_default();
    let out = match &output {
        Some(path) => match Output::file(path, keep) {
            Ok(o) => o,
            Err(e) => {
                let code = if e.kind() == std::io::ErrorKind::InvalidData {
                    code::BAD_INPUT
                } else {
                    code::LOCAL
                };
                return fail(e.to_string(), code);
            }
        },
        None => Output::stdout(),
    };
    let out = Arc::new(Mutex::new(out));
    let mut options = PageOptions::new()
        .guards(guards)
        .hints(hints)
        .page_retries(4)
        .concurrency(concurrency);
    let mut saves = None;
    if let Some(path) = &checkpoint {
        let store = StateStore::new(
            path.clone(),
            output.clone(),
            Arc::clone(&out),
            saved.map(|s| s.checkpoint),
        );
        saves = Some(store.flush_handle());
        options = options.checkpoint_store(store).resume(if resume {
            Resume::Required
        } else {
            Resume::Never
        });
    }

    let _ = tracing::subscriber::set_global_default(stats::EventCounter::new(Arc::clone(&stats)));
    // A run that stopped on an outage left its breakers: start from them (the probe it was
    // waiting for), not from a closed breaker's full set of attempts.
    if !breakers.is_empty() {
        client.with_pacer(|p| p.restore_breaker_states(clock(), &breakers));
    }
    if let Some(state) = &quota_state {
        match state.load() {
            Ok(used) => client.with_pacer(|p| p.restore_quota_usage(clock(), &used)),
            Err(msg) => return fail(msg, code::BAD_INPUT),
        }
    }
    let interrupt = Interrupt::new(
        Arc::clone(&stats),
        limits.clone(),
        checkpoint.clone(),
        saves.clone(),
    );
    interrupt::arm(&interrupt);

    let terminal = terminal.unwrap_or_else(|| {
        std::io::stderr().is_terminal() && (output.is_some() || !std::io::stdout().is_terminal())
    });
    std::thread::scope(|scope| {
        let display =
            progress::Display::start(scope, &stats, &client, &limits, terminal, progress_interval);
        let (mut code, mut outcome) = walk(
            (&client, quota_state.as_ref()),
            spec,
            template,
            options,
            &out,
            &stats,
            &interrupt,
        );
        if let Some(state) = &quota_state
            && let Err(e) = save_quota(&client, state)
        {
            eprintln!("paceline extract: {e}");
        }
        // The walk (and its store) is gone: every save queued has been written, or failed.
        if let Some(e) = saves.as_ref().and_then(StateFlush::error) {
            code = code::LOCAL;
            outcome = format!("cannot save the checkpoint: {e}");
        } else if let (code::SERVER, Some(path)) = (code, &checkpoint)
            && path.exists()
        {
            let breakers = client.with_pacer(|p| p.breaker_states(clock()));
            if let Err(e) = state::save_breakers(path, breakers) {
                eprintln!("paceline extract: cannot keep the breakers' state: {e}");
            }
        }
        display.finish();
        eprint!(
            "{}",
            progress::summary(
                &stats,
                Some(&client),
                &limits,
                &outcome,
                checkpoint.as_deref()
            )
        );
        (code, stats.records.load(Relaxed))
    })
}

/// The page loop: the exit code and what to say about it.
fn walk(
    (client, quota_state): (&Client, Option<&QuotaState>),
    spec: Option<PageSpec>,
    template: RequestTemplate,
    options: PageOptions,
    out: &Arc<Mutex<Output>>,
    stats: &Stats,
    interrupt: &Interrupt,
) -> (u8, String) {
    let mut pages = match client.pages(spec, template, options) {
        Ok(p) => p,
        Err(e) => return (exit_code(&e), describe(&e)),
    };
    let lock_out = || out.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Err(stop) = interrupt.fetching() {
            return stop;
        }
        let started = Instant::now();
        let next = pages.next_page();
        let writing = interrupt.writing();
        stats.fetch_ns.fetch_add(
            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
        let page = match next {
            None => {
                if let Err(e) = lock_out().sync() {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
                return ended(pages.walk());
            }
            Some(Err(e)) => return (exit_code(&e), describe(&e)),
            Some(Ok(page)) => page,
        };
        {
            let mut out = lock_out();
            for record in page.iter() {
                if let Err(e) = out.record(record) {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
            }
        }
        stats.records.fetch_add(page.len() as u64, Relaxed);
        stats.pages.store(pages.delivered().pages, Relaxed);
        match pages.commit() {
            Ok(true) => {}
            // No checkpoint store: make the records durable all the same.
            Ok(false) => {
                if let Err(e) = lock_out().sync() {
                    return (code::LOCAL, format!("cannot write the output: {e}"));
                }
            }
            Err(e) => return (exit_code(&e), describe(&e)),
        }
        if let Some(state) = quota_state
            && let Err(e) = save_quota(client, state)
        {
            return (code::LOCAL, e);
        }
        if let Some(stop) = writing.stop() {
            return stop;
        }
        drop(writing);
        let _ = std::io::stderr().flush();
    }
}

/// Writes what the quotas have used this period into the state file.
fn save_quota(client: &Client, state: &QuotaState) -> Result<(), String> {
    let now = clock();
    let used = client.with_pacer(|p| p.quota_usage(now));
    let now_s = now
        .wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    state.save(&used, now_s)
}

/// The exit code and outcome of a walk that reached the list's end: complete, with the signal
/// that showed the end, or, when an offset or page walk saw its list change, the drift code.
fn ended(walk: &paceline::paginate::Walk) -> (u8, String) {
    let reason = walk
        .end_reason()
        .map_or_else(|| "the end".to_owned(), ToString::to_string);
    let drift = walk.drift();
    if drift.is_empty() {
        return (code::COMPLETE, format!("complete ({reason})"));
    }
    let missing = match drift.may_be_missing() {
        0 => "an unknown number of records".to_owned(),
        n => format!("about {n} records"),
    };
    (
        code::DRIFTED,
        format!(
            "complete ({reason}), but the list changed while it was read by offset: {missing} \
             may be missing ({drift}). Records deleted or inserted ahead of the offset shift the \
             rest past it unseen; page it by a cursor or keyset (--keyset FIELD=PARAM) for an \
             exact copy"
        ),
    )
}

/// What a walk stopped by a page it could not read should say: which flag would make it work.
fn hint(e: &PagesError) -> Option<&'static str> {
    use paceline::paginate::{GuardError, PageError};
    match e {
        PagesError::Stopped {
            error: GuardError::Undetermined { .. },
            ..
        } => Some(
            "say how this list pages: --paginate STYLE, with --items POINTER, --next POINTER \
             or --param NAME as it needs, or --paginate none if one response is the whole list \
             (paceline inspect page shows what one response says)",
        ),
        PagesError::Page { error, .. } => match error {
            PageError::NotAList | PageError::AmbiguousItems { .. } => {
                Some("say where the records are: --items POINTER")
            }
            PageError::Undetected { .. } => {
                Some("say where it is: --next POINTER (and --param NAME for a cursor)")
            }
            PageError::ItemsMissing { .. } | PageError::ItemsNotArray { .. } => {
                Some("check --items (paceline inspect page shows what one response holds)")
            }
            _ => None,
        },
        _ => None,
    }
}

/// What to say about a walk that ended early: the error, and the flag that changes it.
fn describe(e: &PagesError) -> String {
    match e {
        PagesError::Request {
            error: paceline_ureq::Error::BodyTooLarge { limit, .. },
            ..
        } => format!(
            "{e}; to read it, raise --max-body (now {})",
            ByteSize(*limit)
        ),
        PagesError::Request {
            error: paceline_ureq::Error::InvalidRequest(_),
            page,
            ..
        } if *page > 1 => format!(
            "{e}; it is built from the server's pointer to the page (its cursor, token or next \
             URL), which makes a request that cannot be sent"
        ),
        PagesError::Request { error, .. }
            if matches!(
                error.pacer_error(),
                Some(
                    paceline::Error::BreakerOpen { .. } | paceline::Error::AttemptsExhausted { .. }
                )
            ) =>
        {
            format!(
                "{e}; the server is down or failing: everything before this page is saved, run \
                 again with --resume once it is back (--max-outage sets how long an outage is \
                 waited out)"
            )
        }
        e => match hint(e) {
            Some(h) => format!("{e}; {h}"),
            None => e.to_string(),
        },
    }
}

/// The exit code for a walk that ended early.
fn exit_code(e: &PagesError) -> u8 {
    match e {
        PagesError::Request { error, page, .. } => match error {
            // The first page's request is the user's; a later one is built from what the
            // server sent (a cursor, a token, a next URL), which the user cannot fix.
            paceline_ureq::Error::InvalidRequest(_) if *page > 1 => code::SERVER,
            paceline_ureq::Error::InvalidRequest(_) => code::BAD_INPUT,
            _ => match error.pacer_error() {
                Some(paceline::Error::QuotaExhausted { .. }) => code::QUOTA,
                _ => code::SERVER,
            },
        },
        PagesError::Page { error, .. }
            if !error.is_transient()
                && !matches!(error, paceline::paginate::PageError::Status(_)) =>
        {
            code::STOPPED
        }
        PagesError::Page { .. } => code::SERVER,
        PagesError::Stopped { .. } => code::STOPPED,
        PagesError::Checkpoint { .. } => code::LOCAL,
        _ => code::BAD_INPUT,
    }
}
