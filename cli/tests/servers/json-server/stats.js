// json-server middleware (`-m stats.js`): counts the requests to /items, and answers
// GET /stats with {"list_requests": N} (not counted), so tests report the server's own count.
let listRequests = 0;

module.exports = (req, res, next) => {
  if (req.path === '/stats') return res.json({ list_requests: listRequests });
  if (req.path.startsWith('/items')) listRequests += 1;
  next();
};
