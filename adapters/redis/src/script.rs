//! The Lua script the store runs (loaded once per server, then called by its SHA with
//! `EVALSHA`), and how its arguments and answers are laid out.
//!
//! It is [`paceline::shared::BucketState`] step for step, on Redis's clock (`TIME`, in µs):
//! the same [`Ticks`](paceline::shared::Ticks) pairs (whole µs and a remainder in `1/count`
//! µs), the same comparisons, the same rounding. Every number it handles stays below 2⁵³
//! (the Pacer holds budgets to [`paceline::shared::MAX_EXACT`]), so Lua's doubles are exact;
//! numbers are written back with `%.0f`, never `tostring` (which keeps 14 digits).
//!
//! The bucket is one hash: `tu`, `tf` (the theoretical arrival time) and `p` (paused until),
//! expiring a second after the state stops mattering ([`BucketState::ttl_us`]).

use std::time::Duration;

use paceline::shared::{BucketState, Reply, Reservation, Ticks};

/// The script. `KEYS[1]`: the bucket. `ARGV[1]`: `r` (reserve) or `p` (pause).
///
/// Reserve: `ARGV[2..=11]` = count, lead (µs, frac), tolerance (µs, frac), cost (µs, frac),
/// tokens, max ahead (µs), whole (`1` when the interval is whole µs). Answers
/// `{granted (1|0), wait µs, paused (1|0)}`.
///
/// Pause: `ARGV[2]` = µs. Answers `{1, 0, 1}`.
///
/// [`BucketState::ttl_us`]: paceline::shared::BucketState::ttl_us
pub const LUA: &str = r#"
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local st = redis.call('HMGET', key, 'tu', 'tf', 'p')
local tu = tonumber(st[1]) or 0
local tf = tonumber(st[2]) or 0
local p = tonumber(st[3]) or 0

local function fmt(x) return string.format('%.0f', x) end

local function save(u, f, pause)
  local c = u
  if f > 0 then c = c + 1 end
  local last = math.max(c, pause) - now
  if last < 0 then last = 0 end
  local ttl_ms = math.ceil((last + 1000000) / 1000)
  redis.call('HSET', key, 'tu', fmt(u), 'tf', fmt(f), 'p', fmt(pause))
  redis.call('PEXPIRE', key, fmt(ttl_ms))
end

if ARGV[1] == 'p' then
  local u = now + tonumber(ARGV[2])
  if u > p then p = u end
  save(tu, tf, p)
  return {1, 0, 1}
end

local count = tonumber(ARGV[2])
local lu, lf = tonumber(ARGV[3]), tonumber(ARGV[4])
local ou, of = tonumber(ARGV[5]), tonumber(ARGV[6])
local cu, cf = tonumber(ARGV[7]), tonumber(ARGV[8])
local tokens = tonumber(ARGV[9])
local max_ahead = tonumber(ARGV[10])
local whole = ARGV[11] == '1'

local function less(au, af, bu, bf) return au < bu or (au == bu and af < bf) end
local function add(au, af, bu, bf)
  local u, f = au + bu, af + bf
  if f >= count then f = f - count; u = u + 1 end
  return u, f
end
local function sub(au, af, bu, bf)
  if not less(bu, bf, au, af) then return 0, 0 end
  if af < bf then return au - bu - 1, af + count - bf end
  return au - bu, af - bf
end
local function ceil(u, f) if f > 0 then return u + 1 end return u end
local function arrival(x) if whole or x == 0 then return x, 0 end return x - 1, 1 end
local function later(au, af, bu, bf) if less(au, af, bu, bf) then return bu, bf end return au, af end

local from = math.max(now, p)
local paused = 0
if p > now then paused = 1 end
local at
if tokens == 1 then
  at = math.max(ceil(sub(tu, tf, lu, lf)), from)
else
  local mu, mf = later(tu, tf, arrival(from))
  local nu, nf = add(mu, mf, cu, cf)
  local au, af = sub(nu, nf, ou, of)
  if less(from, 0, au, af) then at = ceil(au, af) else at = from end
end
local ahead = at - now
if ahead > max_ahead then
  return {0, ahead - max_ahead, paused}
end
local mu, mf = later(tu, tf, arrival(at))
tu, tf = add(mu, mf, cu, cf)
save(tu, tf, p)
return {1, ahead, paused}
"#;

/// `ARGV` for a reservation, after the op.
pub(crate) fn reserve_args(r: &Reservation) -> [u64; 10] {
    let b = &r.bucket;
    [
        b.count,
        b.lead.us,
        b.lead.frac,
        b.tolerance.us,
        b.tolerance.frac,
        r.cost.us,
        r.cost.frac,
        r.tokens,
        r.max_ahead_us,
        u64::from(b.interval.frac == 0),
    ]
}

/// The paused-for `ARGV`, µs.
pub(crate) fn pause_arg(wait: Duration) -> u64 {
    u64::try_from(wait.as_micros())
        .unwrap_or(paceline::shared::MAX_EXACT)
        .min(paceline::shared::MAX_EXACT / 2)
}

/// The script's answer as a [`Reply`], or `None` for anything it never answers.
pub(crate) fn reply(answer: &[i64]) -> Option<Reply> {
    let [granted, wait, paused] = *answer else {
        return None;
    };
    let wait = Duration::from_micros(u64::try_from(wait).ok()?);
    let paused = paused == 1;
    match granted {
        1 => Some(Reply::Granted { wait, paused }),
        0 => Some(Reply::NotYet { wait, paused }),
        _ => None,
    }
}

/// A bucket's hash fields (`tu`, `tf`, `p`) as a [`BucketState`], if the key holds one.
pub(crate) fn state(fields: &[Option<u64>]) -> Option<BucketState> {
    match *fields {
        [Some(us), Some(frac), Some(paused_until)] => Some(BucketState {
            tat: Ticks { us, frac },
            paused_until,
        }),
        _ => None,
    }
}
