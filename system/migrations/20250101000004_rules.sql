-- Rules engines over HTTP (SYSTEM-SPEC section 8): work orders with their
-- evidence and immutable contract snapshots, the credit ledger, and the
-- feed's items. Applied by the owner role. The app role gets DML through the
-- default privileges of 0001; the append-only tables lose UPDATE and DELETE
-- below, and a trigger refuses both even to roles that still hold them.

-- Refuses UPDATE and DELETE on the append-only tables.
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Work orders (8.2). fields holds the contract fields as sent (never a
-- null value: a null in a patch deletes the key). snapshot_version is the
-- latest snapshot's version, NULL before the first contract patch.
CREATE TABLE work_orders (
    id               bigserial   PRIMARY KEY,
    report_type      text        NOT NULL CHECK (report_type IN
                         ('VALUATION', 'DPR', 'REVALUATION', 'STAGE_PROGRESS')),
    status           text        NOT NULL DEFAULT 'DRAFT' CHECK (status IN
                         ('DRAFT', 'EVIDENCE_PENDING', 'DATA_PENDING', 'READY_FOR_RENDER',
                          'CANCELLED', 'CLOSED')),
    fields           jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fields) = 'object'),
    snapshot_version integer     NULL CHECK (snapshot_version >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE work_order_evidence (
    id            bigserial   PRIMARY KEY,
    work_order_id bigint      NOT NULL REFERENCES work_orders (id),
    kind          text        NOT NULL CHECK (kind IN ('PHOTO', 'GEO', 'SCREENSHOT', 'DOCUMENT')),
    caption       text        NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_order_evidence_order_idx ON work_order_evidence (work_order_id, id);

-- One row per contract patch: what went in (fields + evidence kinds) and
-- what the rules made of it (readiness + valuation). Never changed.
CREATE TABLE work_order_snapshots (
    work_order_id bigint      NOT NULL REFERENCES work_orders (id),
    version       integer     NOT NULL CHECK (version >= 1),
    input         jsonb       NOT NULL,
    output        jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (work_order_id, version)
);
CREATE TRIGGER work_order_snapshots_append_only
    BEFORE UPDATE OR DELETE ON work_order_snapshots
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Credit ledger (8.3). The balance row is locked (SELECT ... FOR UPDATE) by
-- every change; the checks are the last line of defence.
CREATE TABLE billing_accounts (
    id         bigserial   PRIMARY KEY,
    mode       text        NOT NULL CHECK (mode IN ('CREDIT', 'POSTPAID')),
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    wallet     bigint      NOT NULL DEFAULT 0 CHECK (wallet >= 0),
    reserved   bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT billing_accounts_available_check CHECK (wallet - reserved >= 0)
);

CREATE TABLE billing_reservations (
    id              bigserial   PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES billing_accounts (id),
    amount          bigint      NOT NULL CHECK (amount > 0),
    status          text        NOT NULL DEFAULT 'ACTIVE'
                                CHECK (status IN ('ACTIVE', 'CONSUMED', 'RELEASED')),
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    ref_type        text        NOT NULL CHECK (length(ref_type) BETWEEN 1 AND 100),
    ref_id          text        NOT NULL CHECK (length(ref_id) BETWEEN 1 AND 255),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT billing_reservations_account_key UNIQUE (account_id, idempotency_key)
);
-- consume/release by reference take the latest reservation of (ref_type, ref_id).
CREATE INDEX billing_reservations_ref_idx
    ON billing_reservations (account_id, ref_type, ref_id, id);

CREATE TABLE billing_grants (
    id              bigserial   PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES billing_accounts (id),
    amount          bigint      NOT NULL CHECK (amount > 0),
    reason          text        NOT NULL CHECK (reason IN ('grant', 'topup', 'adjustment')),
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT billing_grants_account_key UNIQUE (account_id, idempotency_key)
);

-- Every balance change, in order. Σ wallet_delta = wallet and
-- Σ reserved_delta = reserved per account, at every commit.
CREATE TABLE billing_ledger (
    seq             bigserial   PRIMARY KEY,
    account_id      bigint      NOT NULL REFERENCES billing_accounts (id),
    kind            text        NOT NULL CHECK (kind IN
                        ('reserve', 'consume', 'release', 'grant', 'topup', 'adjustment', 'override')),
    wallet_delta    bigint      NOT NULL,
    reserved_delta  bigint      NOT NULL,
    idempotency_key text        NULL,
    reservation_id  bigint      NULL REFERENCES billing_reservations (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT billing_ledger_moves_something CHECK (wallet_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX billing_ledger_account_idx ON billing_ledger (account_id, seq);
CREATE TRIGGER billing_ledger_append_only
    BEFORE UPDATE OR DELETE ON billing_ledger
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Feed items (8.4): posts, listings and events of a community, scored at
-- read time. product_id ties a listing to a product (for the cart
-- exclusion); it is not a foreign key, as feeds may list products of other
-- systems.
CREATE TABLE feed_items (
    id         bigserial        PRIMARY KEY,
    community  text             NOT NULL CHECK (length(community) BETWEEN 1 AND 100),
    kind       text             NOT NULL CHECK (kind IN ('post', 'listing', 'event')),
    seller_id  bigint           NOT NULL,
    created_at timestamptz      NOT NULL,
    signal     double precision NOT NULL CHECK (signal >= 0 AND signal <= 1),
    fit        double precision NOT NULL CHECK (fit >= 0 AND fit <= 1),
    hidden     boolean          NOT NULL DEFAULT false,
    product_id bigint           NULL
);
-- The feed reads a community's visible items up to the walk's max id.
CREATE INDEX feed_items_community_idx ON feed_items (community, id) WHERE NOT hidden;

-- Grants: the default privileges of 0001 gave the app role full DML on
-- these tables; the append-only ones keep INSERT and SELECT only.
GRANT SELECT, INSERT, UPDATE, DELETE ON
    work_orders, work_order_evidence, billing_accounts, billing_reservations,
    billing_grants, feed_items
    TO gauntlet_app;
REVOKE UPDATE, DELETE, TRUNCATE ON work_order_snapshots, billing_ledger FROM gauntlet_app;
GRANT SELECT, INSERT ON work_order_snapshots, billing_ledger TO gauntlet_app;
GRANT USAGE, SELECT ON SEQUENCE
    work_orders_id_seq, work_order_evidence_id_seq, billing_accounts_id_seq,
    billing_reservations_id_seq, billing_grants_id_seq, billing_ledger_seq_seq,
    feed_items_id_seq
    TO gauntlet_app;
