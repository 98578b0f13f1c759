-- Storefront webhooks, inventory and the downstream sync work queue
-- (SYSTEM-SPEC section 5). Runs after 0002, which creates the outbox that
-- webhook orders also write to. Applied by the owner role; the app role gets
-- DML through the default privileges of 0001 and the explicit grants below.

-- Stock per SKU. reserved may exceed on_hand: a storefront order is already
-- paid when its webhook arrives, so it is recorded, never refused; the
-- shortfall shows as ats = 0 (ats = max(0, on_hand - reserved - buffer)).
CREATE TABLE inventory (
    sku        text        PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    on_hand    bigint      NOT NULL CHECK (on_hand >= 0),
    reserved   bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    buffer     bigint      NOT NULL DEFAULT 0 CHECK (buffer >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Seed stock: SKU-0001 .. SKU-0050 (10,000 on hand, buffer 10) and SKU-LOW
-- (5 on hand, buffer 3), so ats reaches its floor of 0 after 2 units.
INSERT INTO inventory (sku, on_hand, reserved, buffer)
SELECT 'SKU-' || lpad(g::text, 4, '0'), 10000, 0, 10 FROM generate_series(1, 50) AS g;
INSERT INTO inventory (sku, on_hand, reserved, buffer) VALUES ('SKU-LOW', 5, 0, 3);

-- Orders received by storefront webhook, idempotent on (source, external id).
CREATE TABLE external_orders (
    id          bigserial   PRIMARY KEY,
    source      text        NOT NULL CHECK (source IN ('shopify')),
    external_id text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 64),
    -- The webhook body as received (after its signature was checked).
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT external_orders_source_external_id_key UNIQUE (source, external_id)
);

CREATE TABLE external_order_lines (
    external_order_id bigint  NOT NULL REFERENCES external_orders (id) ON DELETE CASCADE,
    line_no           integer NOT NULL CHECK (line_no >= 1),
    sku               text    NOT NULL REFERENCES inventory (sku),
    quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    PRIMARY KEY (external_order_id, line_no)
);
CREATE INDEX external_order_lines_sku_idx ON external_order_lines (sku);

-- Work queue for pushes to downstream systems. One row per unit of work,
-- deduplicated on dedupe_key. A worker claims due pending rows with
-- FOR UPDATE SKIP LOCKED, sets status processing + claim_token, pushes, and
-- finishes the row only if its claim_token still matches (a row reclaimed
-- after being stuck is not overwritten by the slow worker).
CREATE TABLE sync_jobs (
    id              bigserial   PRIMARY KEY,
    dedupe_key      text        NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    kind            text        NOT NULL CHECK (kind IN ('inventory.sync')),
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'processing', 'done', 'error')),
    -- Attempts started so far; a row is retried max_retries times after its
    -- first attempt, so it is tried at most max_retries + 1 times.
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_retries     integer     NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_at       timestamptz NULL,
    claim_token     uuid        NULL,
    last_error      text        NULL,
    error_code      text        NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sync_jobs_dedupe_key_key UNIQUE (dedupe_key),
    CONSTRAINT sync_jobs_claim_matches_status CHECK
        ((status = 'processing') = (claim_token IS NOT NULL AND locked_at IS NOT NULL)),
    CONSTRAINT sync_jobs_error_has_code CHECK ((status = 'error') = (error_code IS NOT NULL))
);
CREATE INDEX sync_jobs_due_idx ON sync_jobs (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX sync_jobs_processing_idx ON sync_jobs (locked_at) WHERE status = 'processing';
CREATE INDEX sync_jobs_status_idx ON sync_jobs (status, id);

-- Explicit grants (the default privileges of 0001 cover these already).
GRANT SELECT, INSERT, UPDATE, DELETE ON
    inventory, external_orders, external_order_lines, sync_jobs
    TO gauntlet_app;
GRANT USAGE, SELECT ON SEQUENCE external_orders_id_seq, sync_jobs_id_seq TO gauntlet_app;
