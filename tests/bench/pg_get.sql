-- pgbench: one customer by primary key. run.sh numbered the copied rows'
-- ids md5(1)..md5(n) so a random one can be named without a lookup table.
\set k random(1, :n)
SELECT id, doc, version, created_at, updated_at
  FROM bench_pg.customers
 WHERE tenant_id = :tenant AND id = md5(:k::text)::uuid;
