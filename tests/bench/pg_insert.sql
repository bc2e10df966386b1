-- pgbench: one customer row per transaction, the columns the customers
-- service writes on create (tests/bench/run.sh passes a real stored document
-- and its names with -D; the id and the e-mail address are new each time).
INSERT INTO bench_pg.customers (tenant_id, id, doc, first_name, last_name, email, email_key,
                                phone, is_company, account_status, tags, sort_last, sort_first)
SELECT :tenant, u, :doc::jsonb, :first, :last, 'pgb.' || u || '@example.com',
       'pgb.' || u || '@example.com', :phone, false, 0, ARRAY['vip', 'newsletter'], :sortlast,
       :sortfirst
  FROM gen_random_uuid() AS u;
