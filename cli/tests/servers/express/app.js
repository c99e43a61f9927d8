// A paginated list behind express-rate-limit 8 (express 5), for cli/tests/real_limiters.rs.
//
//   node app.js PORT        (or PORT=... node app.js)
//
// Environment:
//   LIMITER_HEADERS  draft-7 | draft-8 | legacy | off   (default draft-7)
//                    draft-7 / draft-8: standardHeaders: that draft, legacyHeaders: false
//                    legacy:  standardHeaders: false, legacyHeaders: true (X-RateLimit-*)
//                    off:     no limiter at all
//   LIMIT            requests a window (default 20)
//   WINDOW_MS        the window (default 1000)
//   RECORDS          records in the list (default 400), ids 1..=RECORDS
//
// The list: GET /items?page=N (10 records a page; `per_page` up to 100), a JSON array of
// records; every page but the last has `Link: <http://127.0.0.1:PORT/items?page=N+1&per_page=P>;
// rel="next"` (GitHub's style). The limiter sees /items only.
//
// GET /stats (not counted, not limited): what the server saw of /items, in arrival order:
//   {"requests": N, "served": N2xx, "refused": N429,
//    "log": [{"at_ms": arrival (ms since the epoch, fractional), "done_ms": response finished,
//             "status": 200, "url": "/items?page=2&per_page=10"}, ...],
//    "config": {...}}
// so the tests measure from the server's side, not from paceline's summary.
'use strict';

const express = require('express');
const { rateLimit } = require('express-rate-limit');

const port = Number(process.argv[2] || process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node app.js PORT');
  process.exit(2);
}
const mode = process.env.LIMITER_HEADERS || 'draft-7';
const limit = Number(process.env.LIMIT || 20);
const windowMs = Number(process.env.WINDOW_MS || 1000);
const records = Number(process.env.RECORDS || 400);
const modes = {
  'draft-7': { standardHeaders: 'draft-7', legacyHeaders: false },
  'draft-8': { standardHeaders: 'draft-8', legacyHeaders: false },
  legacy: { standardHeaders: false, legacyHeaders: true },
  off: null,
};
if (!(mode in modes)) {
  console.error(`LIMITER_HEADERS must be one of ${Object.keys(modes).join(', ')}; not ${mode}`);
  process.exit(2);
}

// Wall-clock milliseconds with sub-millisecond resolution.
const nowMs = () => performance.timeOrigin + performance.now();
const log = [];

const app = express();
app.set('etag', false);

app.get('/stats', (req, res) => {
  const served = log.filter((r) => r.status >= 200 && r.status < 300).length;
  const refused = log.filter((r) => r.status === 429).length;
  res.json({
    requests: log.length,
    served,
    refused,
    log,
    config: { mode, limit, windowMs, records },
  });
});

// Every /items request is logged on arrival, before the limiter; its status when it is sent.
app.use('/items', (req, res, next) => {
  const entry = { at_ms: nowMs(), done_ms: null, status: null, url: req.originalUrl };
  log.push(entry);
  res.on('finish', () => {
    entry.done_ms = nowMs();
    entry.status = res.statusCode;
  });
  next();
});

if (modes[mode]) {
  app.use('/items', rateLimit({ windowMs, limit, ...modes[mode] }));
}

app.get('/items', (req, res) => {
  const page = Math.max(1, Number.parseInt(req.query.page, 10) || 1);
  const perPage = Math.min(100, Math.max(1, Number.parseInt(req.query.per_page, 10) || 10));
  const first = (page - 1) * perPage + 1;
  const last = Math.min(records, page * perPage);
  const items = [];
  for (let id = first; id <= last; id += 1) items.push({ id, name: `record ${id}` });
  if (last < records) {
    res.set('Link', `<http://127.0.0.1:${port}/items?page=${page + 1}&per_page=${perPage}>; rel="next"`);
  }
  res.json(items);
});

app.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${port}, limiter ${mode} ${limit}/${windowMs} ms, ${records} records`);
});
