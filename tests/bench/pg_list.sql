-- pgbench: the first 50 customers by last name (the index the service's
-- list uses: tenant_id, sort_last, id).
SELECT id, doc, version, created_at, updated_at
  FROM bench_pg.customers
 WHERE tenant_id = :tenant
 ORDER BY sort_last, id
 LIMIT 50;
