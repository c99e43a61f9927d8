//! The `extract` flags, and turning them into a [`Job`]: the request template, the guards, how
//! the list pages (a spec file or hints from the flags), the Pacer's limits and the client.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use paceline::PacerConfig;
use paceline::breaker::BreakerConfig;
use paceline::paginate::{
    Guards, Hints, PageSize, PageSpec, Param, Pointer, RequestTemplate, Source, StyleKind, Url,
};
use paceline::retry::RetryPolicy;
use paceline::throttle::{Limit, Period, QuotaConfig, ThrottleConfig};
use paceline_ureq::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_BODY_LIMIT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    Timeouts,
};

use super::stats::Stats;
use super::units::{ByteSize, Seconds, Span};
use super::{Job, Limits, QuotaState, client, code, headers};

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  complete: every record is in the output
  1  local failure: the output or the checkpoint could not be written
  2  bad input: usage, page spec, header, or a checkpoint that does not fit
  3  server unavailable after retries, or a final error status, or an answer that cannot be
     used (a page over --max-body, a head over 64 KiB, a next-page pointer too long to send)
  4  quota exhausted (a --rate N/day quota, or the server's)
  5  interrupted (Ctrl-C) and resumable: run again with --resume
  6  stopped: by a guard (--max-pages, a repeated cursor, an origin not allowed; resumable),
     or the list's paging could not be told (say how: --paginate, --items, --next, --param)
  7  complete, but the list changed while it was read by offset or page number: records
     deleted or inserted ahead of the offset may be missing (the summary says how many, as far
     as the responses tell); a cursor or keyset (--keyset) reads a changing list exactly";

/// How the list pages, without a spec file. Whatever a style needs and its flags do not say
/// (the items, the next cursor or URL, the total, the parameter) is found in the first page
/// the way auto-detection finds it; a flag always wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Paginate {
    /// Detected from the first exchange (the request's parameters, the headers, the body).
    Auto,
    /// The `Link` header's `rel="next"` (GitHub, json-server).
    Link,
    /// A cursor in the body (`--next`), sent back as `--param`.
    Cursor,
    /// Offsets: `--param` (default: the URL's own offset parameter, else `offset`).
    Offset,
    /// Page numbers: `--param` (default: the URL's own page parameter, else `page`).
    Page,
    /// Keyset: `--keyset /id=after_id` (field of the last record = query parameter).
    Keyset,
    /// A next URL in the body (`--next`).
    NextUrl,
    /// Page tokens: `--next` (`/nextPageToken`) sent back as `--param` (`pageToken`).
    Token,
    /// GraphQL Relay: the connection with `pageInfo`, POSTed with `--data`.
    Graphql,
    /// Not paged: the first response is the whole list.
    None,
}

/// Extract every record of a list endpoint to a JSON Lines file, checkpointed after each page.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct Extract {
    /// The list's first page.
    url: String,
    /// How the list pages, as a JSON PageSpec (see the paceline docs).
    #[arg(long, value_name = "SPEC.json", conflicts_with = "paginate")]
    page_spec: Option<PathBuf>,
    /// How the list pages, without a spec file.
    #[arg(long, value_enum, default_value_t = Paginate::Auto)]
    paginate: Paginate,
    /// Where the records are in a page (a JSON Pointer; "" when the page is the array).
    #[arg(long, value_name = "POINTER")]
    items: Option<String>,
    /// Where the next cursor, token or URL is in a page (a JSON Pointer).
    #[arg(long, value_name = "POINTER")]
    next: Option<String>,
    /// The parameter that carries the cursor, token, offset or page number back: a query
    /// parameter, or `body:/pointer` for a member of the --data body.
    #[arg(long, value_name = "NAME")]
    param: Option<String>,
    /// Where the list's total is: a JSON Pointer, or `header:NAME` (`header:X-Total-Count`).
    #[arg(long, value_name = "POINTER")]
    total: Option<String>,
    /// Records per page to ask for: `NAME=N` (`limit=100`, `per_page=100`), or `N` to change
    /// the value of the page-size parameter the URL already has. Without it, the URL's own
    /// parameter (if any) is used as it is; no parameter is ever assumed.
    #[arg(long, value_name = "[NAME=]N")]
    page_size: Option<String>,
    /// Keyset: FIELD=PARAM (`/id=after_id`: the last record's field, sent as a parameter),
    /// repeatable. With --paginate keyset it is the style; with an offset or page list it is
    /// the drift-free way the list also offers, used from the second page on.
    #[arg(long, value_name = "FIELD=PARAM")]
    keyset: Vec<String>,
    /// A JSON body: the list is requested with POST (GraphQL, search).
    #[arg(long, value_name = "JSON")]
    data: Option<String>,
    /// A request header, `Name: value`; `$VAR` and `${VAR}` are read from the environment
    /// (quote the argument so the shell does not expand them). Repeatable. Values from the
    /// environment are credentials: never printed, logged, checkpointed, or sent to another
    /// origin.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A client-side limit, `COUNT/UNIT` (`10/s`, `300/min`, `5000/h`; `,burst=N`), paced a hair
    /// under (2 %, at most 1 ms a request: limiters that count in whole milliseconds refuse a
    /// request a fraction early); one of a day or longer (`1000/day`) is a quota: exhausting it
    /// stops the extract (exit 4). Repeatable.
    #[arg(long, value_name = "LIMIT")]
    rate: Vec<String>,
    /// Share the --rate (the one under a day) with every process given the same URL, on any
    /// machine: a bucket kept in Redis, `redis://HOST:PORT/KEY` (`?db=N` for another
    /// database). Each request asks Redis for its turn first; a 429's Retry-After pauses the
    /// bucket for every sharer. While Redis is unreachable, requests wait for it (or see
    /// --shared-fail-open).
    #[arg(long, value_name = "URL")]
    shared_budget: Option<String>,
    /// While the --shared-budget's Redis is unreachable, go on at this fraction of the rate
    /// (`0.25` for one of four sharers) instead of waiting for it.
    #[arg(long, value_name = "FRACTION", requires = "shared_budget")]
    shared_fail_open: Option<f64>,
    /// Where what `--rate N/day` quotas spent is kept between runs, by origin, so that a
    /// resumed or repeated extract respects what the day already used; default
    /// `$XDG_STATE_HOME/paceline/quotas.json` (else `~/.local/state/paceline/quotas.json`).
    /// `off`: every run starts with the whole quota.
    #[arg(long, value_name = "FILE|off")]
    quota_state: Option<String>,
    /// Page requests in flight at once: threads sharing one Pacer (which also holds this many
    /// concurrency permits). Offset and page-number lists request the next N pages together
    /// and write them in order; cursor, keyset and next-URL lists learn each page's position
    /// from the one before, so they go one page at a time whatever N is.
    #[arg(long, value_name = "N", default_value_t = 1)]
    concurrency: u32,
    /// The output file (JSON Lines); standard output when not given.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The checkpoint file; default `OUTPUT.checkpoint.json` with --output.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Go on from the checkpoint: the output is cut back to what the checkpoint covers.
    #[arg(long)]
    resume: bool,
    /// Stop after this many pages (over the whole walk, resumes included).
    #[arg(long, value_name = "N")]
    max_pages: Option<u64>,
    /// Drop records whose value at this JSON Pointer was already written.
    #[arg(long, value_name = "POINTER")]
    dedupe_key: Option<String>,
    /// Allow next URLs on this origin (`https://cdn.example.com`, or a host for the list's
    /// scheme); they are requested without credentials. Repeatable.
    #[arg(long, value_name = "HOST")]
    allow_origin: Vec<String>,
    /// Attempts per request, the first included.
    #[arg(long, value_name = "N", default_value_t = 6)]
    max_attempts: u32,
    /// The first backoff, in milliseconds (doubled each retry, with full jitter, capped at
    /// 20 s); a server's Retry-After takes precedence.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    backoff_ms: u64,
    /// Seconds one attempt may take in all: connecting, sending, the response's head and its
    /// whole body; a slower one is cut and retried like a server error. The default is above
    /// what proxies allow an answer (Cloudflare 100 s, nginx and AWS load balancers 60 s).
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_ATTEMPT_TIMEOUT))]
    timeout: Seconds,
    /// Seconds to resolve the server's name, then to connect (TCP, TLS); within --timeout.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_CONNECT_TIMEOUT))]
    connect_timeout: Seconds,
    /// Seconds without a byte from the server (waiting for its answer, or within the body)
    /// before the attempt is cut and retried; within --timeout, which is what stops a server
    /// that trickles its answer.
    #[arg(long, value_name = "SECONDS", default_value_t = Seconds(DEFAULT_IDLE_TIMEOUT))]
    idle_timeout: Seconds,
    /// How long a server may stay down before the extract gives up (exit 3, resumable with
    /// --resume): `90s`, `10m`, `1h`. A breaker per host opens when a page's attempts all
    /// fail (half of the last 2 × --max-attempts calls failing), then probes the server after
    /// 5 s, 10 s, 20 s… (at most 5 min apart); the page waits for the probe that finds the
    /// server back. 0: give up at the first outage. A run that gave up keeps its breakers in
    /// the checkpoint: --resume waits for the probe it was waiting for, sending nothing before.
    #[arg(long, value_name = "DURATION", default_value_t = Span(Duration::from_secs(600)))]
    max_outage: Span,
    /// The largest response body read, in bytes or with a unit (`512KiB`, `10MiB`, `10MB`); a
    /// larger page ends the extract (exit 3), since asking again brings the same page.
    #[arg(long, value_name = "BYTES", default_value_t = ByteSize(DEFAULT_BODY_LIMIT))]
    max_body: ByteSize,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    progress_interval: f64,
}

/// A fatal problem before the walk: a message and an exit code.
type Fatal = (String, u8);

fn bad(msg: impl Into<String>) -> Fatal {
    (msg.into(), code::BAD_INPUT)
}

/// Builds the Pacer, client, spec and template from the arguments.
pub(super) fn build(cmd: Extract, stats: &Arc<Stats>) -> Result<Job, Fatal> {
    let url = Url::parse(&cmd.url).map_err(|e| bad(format!("{}: {e}", cmd.url)))?;
    let mut template = match &cmd.data {
        Some(data) => {
            let body: serde_json::Value =
                serde_json::from_str(data).map_err(|e| bad(format!("--data: not JSON: {e}")))?;
            RequestTemplate::post_json(url.as_str(), &body)
        }
        None => RequestTemplate::get(url.as_str()),
    }
    .map_err(|e| bad(format!("{}: {e}", cmd.url)))?;
    let mut guards = Guards::default();
    // Headers from the environment are credentials: dropped from a next page on another
    // origin (the walk's guards) and from a redirect to one (the client's secret headers).
    let mut secret = Vec::new();
    for arg in &cmd.headers {
        let h = headers::parse(arg, |name| std::env::var(name).ok()).map_err(bad)?;
        if h.from_env {
            guards = guards.credential_header(h.name.as_str());
            secret.push(h.name.clone());
        }
        template = template.header(h.name, h.value);
    }
    if let Some(n) = cmd.max_pages {
        guards = guards.max_pages(n);
    }
    for origin in &cmd.allow_origin {
        let origin = if origin.contains("://") {
            origin.trim_end_matches('/').to_owned()
        } else {
            format!("{}://{}", url.scheme(), origin.trim_end_matches('/'))
        };
        guards = guards.allow_origin(&origin);
    }
    let (mut spec, hints) = match &cmd.page_spec {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| bad(format!("{}: cannot read: {e}", path.display())))?;
            let spec = serde_json::from_slice::<PageSpec>(&text)
                .map_err(|e| bad(format!("{}: not a page spec: {e}", path.display())))?;
            (Some(spec), Hints::default())
        }
        None => (None, hints_from_flags(&cmd, &template)?),
    };
    if let Some(spec) = &mut spec {
        // Flags add to the spec's guards.
        let mut g = spec.guards.clone();
        if let Some(n) = cmd.max_pages {
            g = g.max_pages(n);
        }
        g.allowed_origins
            .extend(guards.allowed_origins.iter().cloned());
        g.credential_headers
            .extend(guards.credential_headers.iter().cloned());
        *spec = spec.clone().guards(g);
        if let Some(key) = &cmd.dedupe_key {
            pointer(key, "--dedupe-key")?;
            *spec = spec.clone().dedupe_by(key);
        }
    }

    let mut throttle = ThrottleConfig::default();
    let mut limits = Limits::default();
    let mut rates = Vec::new();
    for text in &cmd.rate {
        let limit: Limit = text
            .parse()
            .map_err(|e| bad(format!("--rate {text}: {e}")))?;
        if limit.per >= Duration::from_secs(86_400) {
            let period = if limit.per == Duration::from_secs(86_400) {
                Period::Day
            } else {
                Period::Seconds(limit.per.as_secs())
            };
            throttle = throttle.quota(QuotaConfig::new(limit.count, period));
            limits.quota.get_or_insert((limit.count, text.clone()));
        } else {
            // Paced a hair under (2 %, at most 1 ms a request): limiters that count in whole
            // milliseconds refuse a request a fraction early.
            if cmd.shared_budget.is_none() {
                throttle = throttle.limit(limit.with_margin());
            }
            rates.push(limit);
            let rate = limit.rate();
            if limits.rate.as_ref().is_none_or(|(r, _)| rate < *r) {
                limits.rate = Some((rate, text.clone()));
            }
        }
    }
    if cmd.concurrency > 1 {
        throttle = throttle.concurrency(cmd.concurrency);
    }
    let quota_state = match (&limits.quota, cmd.quota_state.as_deref()) {
        (None, _) | (_, Some("off")) => None,
        (Some(_), given) => {
            let path = given.map(PathBuf::from).or_else(QuotaState::default_path).ok_or_else(
                || {
                    bad("nowhere to keep the quota's use between runs (no HOME):                          --quota-state FILE, or --quota-state off to start afresh each run")
                },
            )?;
            limits.quota_state = Some(path.clone());
            Some(QuotaState::new(path, url.origin().ascii_serialization()))
        }
    };
    let retry = RetryPolicy::default()
        .max_attempts(cmd.max_attempts)
        .base(Duration::from_millis(cmd.backoff_ms));
    let config = PacerConfig::default()
        .retry(retry)
        .throttle(throttle)
        // One client walking a list: a page whose attempts all fail is an outage (a time
        // window of past successes would never trip for one sequential client).
        .breaker(
            BreakerConfig::default()
                .count_window(cmd.max_attempts.saturating_mul(2).max(2))
                .minimum_calls(cmd.max_attempts.max(1))
                .failure_ratio(0.5),
        )
        .breaker_wait(cmd.max_outage.0);
    limits.max_outage = cmd.max_outage.0;
    // The breaker's key, as the exchange names it: host[:port], never userinfo.
    limits.host = url
        .authority()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let timeouts = Timeouts::default()
        .connect(cmd.connect_timeout.0)
        .idle(cmd.idle_timeout.0)
        .attempt(cmd.timeout.0);
    let shared = match &cmd.shared_budget {
        Some(url) => {
            Some(super::shared_budget::shared(url, &rates, cmd.shared_fail_open).map_err(bad)?)
        }
        None => None,
    };
    let config = match &shared {
        Some((budget, _)) => config.shared(budget.clone()),
        None => config,
    };
    let mut client = client(config, stats)
        .timeouts(timeouts)
        .body_limit(cmd.max_body.0);
    for name in secret {
        client = client.secret_header(name);
    }
    if let Some((_, store)) = shared {
        client = client.shared_store(store);
    }

    let checkpoint = cmd.checkpoint.clone().or_else(|| {
        cmd.output.as_ref().map(|o| {
            let mut name = o.as_os_str().to_owned();
            name.push(".checkpoint.json");
            PathBuf::from(name)
        })
    });
    if cmd.resume && checkpoint.is_none() {
        return Err(bad("--resume needs --checkpoint (or --output)"));
    }
    Ok(Job {
        client,
        spec,
        hints,
        template,
        guards,
        output: cmd.output,
        checkpoint,
        resume: cmd.resume,
        limits,
        stats: Arc::clone(stats),
        progress_interval: Duration::from_secs_f64(cmd.progress_interval.clamp(0.05, 3600.0)),
        terminal: None,
        concurrency: usize::try_from(cmd.concurrency).unwrap_or(1).max(1),
        quota_state,
    })
}

fn pointer(text: &str, flag: &str) -> Result<(), Fatal> {
    Pointer::parse(text)
        .map(drop)
        .map_err(|e| bad(format!("{flag} {text:?}: not a JSON Pointer: {e}")))
}

/// What the flags say of how the list pages; the rest is detected from the first page.
fn hints_from_flags(cmd: &Extract, template: &RequestTemplate) -> Result<Hints, Fatal> {
    let mut hints = Hints::default();
    let ptr = |text: &Option<String>, flag: &str| -> Result<Option<Pointer>, Fatal> {
        text.as_deref()
            .map(|t| {
                Pointer::parse(t).map_err(|e| bad(format!("{flag} {t:?}: not a JSON Pointer: {e}")))
            })
            .transpose()
    };
    hints.items = ptr(&cmd.items, "--items")?;
    hints.next = ptr(&cmd.next, "--next")?;
    if let Some(key) = ptr(&cmd.dedupe_key, "--dedupe-key")? {
        hints = hints.dedupe_by(key);
    }
    hints.param = cmd
        .param
        .as_deref()
        .map(|p| param(p, template))
        .transpose()?;
    if let Some(t) = &cmd.total {
        hints.total = Some(Source::parse(t).map_err(|e| bad(format!("--total: {e}")))?);
    }
    if let Some(size) = &cmd.page_size {
        hints.page_size = Some(page_size(size, template)?);
    }
    for k in &cmd.keyset {
        let (field, name) = k
            .split_once('=')
            .ok_or_else(|| bad(format!("--keyset {k:?}: expected FIELD=PARAM")))?;
        let field = Pointer::parse(field)
            .map_err(|e| bad(format!("--keyset {k:?}: not a JSON Pointer: {e}")))?;
        hints = hints.key_param(field, param(name, template)?);
    }
    hints.style = match cmd.paginate {
        // With an offset or page list, --keyset names the drift-free way it also offers.
        Paginate::Auto => None,
        Paginate::Link => Some(StyleKind::Link),
        Paginate::Cursor => Some(StyleKind::Cursor),
        Paginate::Offset => Some(StyleKind::Offset),
        Paginate::Page => Some(StyleKind::Page),
        Paginate::Keyset => Some(StyleKind::Keyset),
        Paginate::NextUrl => Some(StyleKind::NextUrl),
        Paginate::Token => Some(StyleKind::Token),
        Paginate::None => {
            hints.single_page = true;
            None
        }
        Paginate::Graphql => {
            if cmd.data.is_none() {
                return Err(bad("--paginate graphql needs --data (the query, as JSON)"));
            }
            Some(StyleKind::Relay)
        }
    };
    Ok(hints)
}

/// `--param`: a query parameter, or `body:/pointer`.
fn param(text: &str, template: &RequestTemplate) -> Result<Param, Fatal> {
    match text.strip_prefix("body:") {
        Some(p) => Pointer::parse(p)
            .map(Param::Body)
            .map_err(|e| bad(format!("--param {text:?}: not a JSON Pointer: {e}"))),
        None if text.is_empty() => Err(bad("--param: empty")),
        None if template.body.is_some() && template.method != http::Method::GET => {
            // A POST list: its cursor goes where the body already has it, else in the query.
            let in_body = template
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .is_some_and(|v| v.get(text).is_some());
            Ok(if in_body {
                Param::Body(Pointer::root().child(text))
            } else {
                Param::query(text)
            })
        }
        None => Ok(Param::query(text)),
    }
}

/// `--page-size NAME=N`, or `N` for the URL's own page-size parameter.
fn page_size(text: &str, template: &RequestTemplate) -> Result<PageSize, Fatal> {
    let (name, n) = match text.rsplit_once('=') {
        Some((name, n)) => (Some(name), n),
        None => (None, text),
    };
    let size: u64 = n.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
        bad(format!(
            "--page-size {text:?}: expected N or NAME=N, N above 0"
        ))
    })?;
    let param = match name {
        Some(name) => param(name, template)?,
        None => template.page_size().map(|p| p.param).ok_or_else(|| {
            bad(format!(
                "--page-size {size}: which parameter carries it? The URL has none that paceline \
                 knows; write it as NAME={size} (--page-size limit={size}, per_page={size}, \
                 page_size={size}…)"
            ))
        })?,
    };
    Ok(PageSize { param, size })
}
