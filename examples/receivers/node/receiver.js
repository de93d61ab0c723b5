// A Calendence webhook receiver in Node.js, standard library only.
// Run: CALENDENCE_WEBHOOK_SECRET=whsec_... PORT=9000 node receiver.js
// In Express, take the raw bytes with express.raw({ type: "application/json" }) on this route.

const crypto = require("crypto");
const http = require("http");

const SECRET = process.env.CALENDENCE_WEBHOOK_SECRET; // the whole string, whsec_ included
if (!SECRET) throw new Error("Set CALENDENCE_WEBHOOK_SECRET");
const PORT = Number(process.env.PORT || 9000);
const SIGNATURE_HEADERS = ["x-calendence-signature", "x-calendence-signature-previous"];
const seenEventIds = new Set(); // in production: a unique column in your database

function isSignedByCalendence(rawBody, headers) {
  const expected = Buffer.from("sha256=" + crypto.createHmac("sha256", SECRET).update(rawBody).digest("hex"));
  return SIGNATURE_HEADERS.some((name) => {
    const received = Buffer.from(String(headers[name] || ""));
    // timingSafeEqual throws on different lengths: check the length first
    return received.length === expected.length && crypto.timingSafeEqual(received, expected);
  });
}

http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks); // the exact bytes, not re-serialized JSON
      if (req.method !== "POST" || !isSignedByCalendence(rawBody, req.headers)) {
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(rawBody);
      res.writeHead(200).end(); // answer fast; do slow work in a queue
      if (seenEventIds.has(event.id)) return; // a retry of an event already handled
      seenEventIds.add(event.id);
      console.log("verified", event.event, event.id);
    });
  })
  .listen(PORT, "127.0.0.1");
