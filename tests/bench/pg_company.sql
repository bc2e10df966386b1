-- pgbench: the company service's cache read (company_ask_cached) on a scratch
-- copy of company.vat_checks whose numbers company.sh renamed K1..Kn, so a
-- random one can be named without a lookup table.
\set k random(1, :n)
SELECT answer::text, (extract(epoch FROM checked_at) * 1000)::bigint
  FROM bench_company.vat_checks
 WHERE vat_number = 'K' || :k AND checked_at > now() - make_interval(hours => 24);
