-- Users, products and the record of loaded fixtures.
-- Applied by the owner role (DATABASE_OWNER_URL); the app role
-- `gauntlet_app` (created by the postgres image's init) only gets DML.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- No citext here: e-mails are stored lowercased, enforced by the check.
    email         text        NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash text        NULL,
    role          text        NOT NULL CHECK (role IN ('consumer', 'producer', 'admin')),
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    producer_id bigint      NOT NULL REFERENCES users (id),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text        NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description text        NOT NULL DEFAULT '',
    price_cents bigint      NOT NULL CHECK (price_cents >= 0),
    stock       integer     NOT NULL CHECK (stock >= 0),
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT products_slug_key UNIQUE (slug)
);

CREATE INDEX products_producer_id_idx ON products (producer_id);
-- Public listings read active products in id order.
CREATE INDEX products_active_id_idx ON products (id) WHERE active;

CREATE TABLE fixture_loads (
    seed      numeric(20, 0) NOT NULL CHECK (seed >= 0),
    size      text           NOT NULL CHECK (size IN ('small', 'medium', 'large')),
    loaded_at timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (seed, size)
);

-- The app role reads and writes rows; it owns nothing and cannot change the
-- schema. fixture_loads is written by the owner only. _sqlx_migrations gets
-- no grant at all.
GRANT SELECT, INSERT, UPDATE, DELETE ON users, products TO gauntlet_app;
GRANT SELECT ON fixture_loads TO gauntlet_app;
GRANT USAGE, SELECT ON SEQUENCE users_id_seq, products_id_seq TO gauntlet_app;

-- Tables and sequences that later migrations create (as the owner) are
-- covered without a grant in each migration.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gauntlet_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO gauntlet_app;
