-- The app role's privileges, applied by `api` at every start after the
-- migrations (system/src/db.rs). The migrations granted them once, when
-- each table was created; a restore done the way the runbooks say
-- (`pg_restore --no-owner --no-privileges`, SYSTEM-SPEC section 9) leaves
-- every grant out, and the app would then be refused on every table. So
-- they are stated here as a whole, idempotently: what the app may do on
-- each table is read from this file, not from the migrations' history.
GRANT USAGE ON SCHEMA public TO gauntlet_app;

-- Rows: read and write everything...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO gauntlet_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO gauntlet_app;
-- ...except: migrations history (no access), fixture loads (owner writes),
-- and the append-only tables (snapshots, credit ledger).
REVOKE ALL ON _sqlx_migrations FROM gauntlet_app;
REVOKE INSERT, UPDATE, DELETE ON fixture_loads FROM gauntlet_app;
REVOKE UPDATE, DELETE, TRUNCATE ON work_order_snapshots, billing_ledger FROM gauntlet_app;

-- Tables and sequences that later migrations create (as the owner).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gauntlet_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO gauntlet_app;
