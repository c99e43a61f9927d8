// json-server's data: RECORDS records (default 1234) in /items, made when it starts.
// `json-server db.js` calls this function once; GET /items (no _page) is the ground truth.
const records = Number(process.env.RECORDS || 1234);

module.exports = () => ({
  items: Array.from({ length: records }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, n: i + 1 })),
});
