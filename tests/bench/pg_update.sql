-- pgbench: change the private note in one customer's document, by primary key.
\set k random(1, :n)
UPDATE bench_pg.customers
   SET doc = jsonb_set(doc, '{description}', to_jsonb(:note::text)),
       version = version + 1, updated_at = now()
 WHERE tenant_id = :tenant AND id = md5(:k::text)::uuid;
