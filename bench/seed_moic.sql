-- A fund of 1,000 companies and 10,000 lots (10 per company), 1,000 distributions, half the companies
-- marked (four year-end marks each, the last one the current price). Run against a freshly migrated database: psql "$DATABASE_URL" -f bench/seed_moic.sql
-- `-v lots=100000` seeds that many lots instead (spread over the same 1,000 companies); `-v fund=2` seeds
-- fund 2 beside fund 1 (its companies and investments numbered from 1,001), for a run over both.
\if :{?lots}
\else
\set lots 10000
\endif
\if :{?fund}
\else
\set fund 1
\endif
BEGIN;
INSERT INTO funds (id, name, size_cents, vintage_year, reserve_ratio_bps) VALUES (:fund, 'Bench Fund ' || :fund, 50000000000, 2020, 4000);
INSERT INTO portfolio_companies (id, fund_id, name, stage, current_share_price_cents, exit_moic_bps, exit_probability,
                                 reserve_exit_moic_bps, planned_reserves_cents)
SELECT (:fund - 1) * 1000 + c, :fund, 'Company ' || c, (ARRAY['seed','series_a','series_b','growth'])[1 + c % 4],
       CASE WHEN c % 2 = 0 THEN 100 + c % 900 END, 10000 + (c % 50) * 1000, (c % 100) / 100.0,
       15000 + (c % 30) * 1000, (c % 10) * 100000
FROM generate_series(1, 1000) AS c;
INSERT INTO investments (id, fund_id, company_id, round_name, invested_on)
SELECT (:fund - 1) * 1000 + c, :fund, (:fund - 1) * 1000 + c, 'Round ' || c, DATE '2020-01-01' + (c % 1500)
FROM generate_series(1, 1000) AS c;
INSERT INTO investment_lots (id, fund_id, investment_id, lot_type, share_price_cents, shares_acquired,
                             cost_basis_cents, acquired_on, created_at)
SELECT gen_random_uuid(), :fund, (:fund - 1) * 1000 + 1 + (n % 1000), (ARRAY['initial','follow_on','secondary','conversion'])[1 + (n / 1000) % 4],
       100 + n % 500, 1000.5, round((100 + n % 500) * 1000.5), DATE '2020-01-01' + (n % 2000),
       now() - (n || ' seconds')::interval
FROM generate_series(0, :lots - 1) AS n;
INSERT INTO distributions (fund_id, company_id, distributed_on, amount_cents, kind, shares_sold)
SELECT :fund, (:fund - 1) * 1000 + 1 + (d % 1000), DATE '2024-01-01' + (d % 600), 50000 + d,
       CASE WHEN d % 2 = 0 THEN 'partial_sale' ELSE 'dividend' END, CASE WHEN d % 2 = 0 THEN 250 END
FROM generate_series(0, 999) AS d;
INSERT INTO company_marks (id, fund_id, company_id, marked_on, share_price_cents, source)
SELECT gen_random_uuid(), :fund, (:fund - 1) * 1000 + c, make_date(2020 + y, 12, 31), (100 + c % 900) * y / 4.0, 'manual'
FROM generate_series(2, 1000, 2) AS c, generate_series(1, 4) AS y;
SELECT setval(pg_get_serial_sequence('funds', 'id'), (SELECT max(id) FROM funds));
SELECT setval(pg_get_serial_sequence('portfolio_companies', 'id'), (SELECT max(id) FROM portfolio_companies));
SELECT setval(pg_get_serial_sequence('investments', 'id'), (SELECT max(id) FROM investments));
COMMIT;
-- Fresh statistics, as autovacuum would have gathered on a database in use.
ANALYZE;
