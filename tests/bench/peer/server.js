// The Node.js peer of `make bench` (tests/bench/run.sh): the customer service
// a team would write in an afternoon with Fastify 5 and node-postgres 8, on a
// table with the same columns and indexes as the suite's (bench_peer.customers,
// made by run.sh with LIKE customers.customers INCLUDING ALL). It serves the
// four requests the benchmark makes, with its own SQL and nothing cached:
//
//   POST  /v1/customers                         one INSERT
//   GET   /v1/customers/:id                     one SELECT
//   PATCH /v1/customers/:id                     one UPDATE
//   GET   /v1/customers?pageSize=&orderBy=lastName   the page and a count
//
// Like the suite it checks a bearer key, validates what it stores (names,
// e-mail) and answers JSON; unlike the suite it writes no audit entry, no
// event and no idempotency record. Environment: PEER_PORT, PEER_KEY,
// PEER_TENANT, PGHOST/PGPORT/PGDATABASE/PGUSER (libpq's), PEER_POOL (16).
"use strict";

const fastify = require("fastify")({ logger: false, bodyLimit: 1 << 20 });
const { Pool } = require("pg");
const crypto = require("node:crypto");

const pool = new Pool({ max: Number(process.env.PEER_POOL || 16) });
const KEY = process.env.PEER_KEY || "";
const TENANT = process.env.PEER_TENANT;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

const COLUMNS = "id, doc, version, created_at, updated_at";

function out(row) {
  return Object.assign({}, row.doc, {
    id: row.id,
    etag: String(row.version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  });
}

function problem(reply, code, field, message) {
  return reply.code(code).send({ error: { code, message, details: field ? [{ field, description: message }] : [] } });
}

fastify.addHook("onRequest", async (req, reply) => {
  if (req.headers.authorization !== "Bearer " + KEY) {
    reply.code(401).send({ error: { code: 401, message: "invalid API key" } });
  }
});

function check(c) {
  for (const f of ["firstName", "lastName"]) {
    if (c[f] !== undefined && (typeof c[f] !== "string" || c[f].length > 100)) return [f, f + " must be text of at most 100 characters"];
  }
  if (!c.firstName && !c.lastName && !c.email) return ["firstName", "a customer needs a name or an e-mail address"];
  if (c.email !== undefined && (typeof c.email !== "string" || !EMAIL.test(c.email))) return ["email", "email is not an e-mail address"];
  return null;
}

fastify.post("/v1/customers", async (req, reply) => {
  const c = req.body || {};
  const bad = check(c);
  if (bad) return problem(reply, 400, bad[0], bad[1]);
  const first = c.firstName || "", last = c.lastName || "", email = c.email || "";
  const doc = Object.assign({}, c, { source: "API" });
  try {
    const { rows } = await pool.query(
      `INSERT INTO bench_peer.customers (tenant_id, id, doc, first_name, last_name, email, email_key,
         phone, is_company, account_status, tags, sort_last, sort_first)
       VALUES ($1, $2, $3, $4, $5, $6, nullif(lower($6), ''), $7, $8, 0, $9, $10, $11)
       RETURNING ${COLUMNS}`,
      [TENANT, crypto.randomUUID(), doc, first, last, email, c.phone || "", Boolean(c.isCompany),
        Array.isArray(c.tags) ? c.tags : [], `${last} ${first}`, `${first} ${last}`]);
    return reply.code(201).header("Location", "/v1/customers/" + rows[0].id).send(out(rows[0]));
  } catch (e) {
    if (e.code === "23505") return problem(reply, 409, "email", "another customer has this e-mail address");
    throw e;
  }
});

fastify.get("/v1/customers/:id", async (req, reply) => {
  const { rows } = await pool.query(
    `SELECT ${COLUMNS} FROM bench_peer.customers WHERE tenant_id = $1 AND id = $2`,
    [TENANT, req.params.id]);
  if (!rows.length) return problem(reply, 404, null, "no customer " + req.params.id);
  return out(rows[0]);
});

fastify.patch("/v1/customers/:id", async (req, reply) => {
  const c = req.body || {};
  const bad = check(Object.assign({ firstName: "x" }, c));
  if (bad) return problem(reply, 400, bad[0], bad[1]);
  const { rows } = await pool.query(
    `UPDATE bench_peer.customers SET doc = doc || $3::jsonb, version = version + 1, updated_at = now()
      WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [TENANT, req.params.id, c]);
  if (!rows.length) return problem(reply, 404, null, "no customer " + req.params.id);
  return out(rows[0]);
});

fastify.get("/v1/customers", async (req, reply) => {
  const size = Math.min(Math.max(Number(req.query.pageSize) || 50, 1), 1000);
  const order = req.query.orderBy === "lastName" ? "sort_last, id" : "created_at DESC, id";
  const [page, count] = await Promise.all([
    pool.query(`SELECT ${COLUMNS} FROM bench_peer.customers WHERE tenant_id = $1 ORDER BY ${order} LIMIT $2`,
      [TENANT, size]),
    pool.query("SELECT count(*)::int AS n FROM bench_peer.customers WHERE tenant_id = $1", [TENANT]),
  ]);
  return { customers: page.rows.map(out), totalSize: count.rows[0].n };
});

fastify.listen({ host: "127.0.0.1", port: Number(process.env.PEER_PORT || 0) }).then((addr) => {
  console.log("peer: listening on " + addr);
}, (e) => {
  console.error("peer: " + e.message);
  process.exit(1);
});
