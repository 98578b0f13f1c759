-- Marketplace (SYSTEM-SPEC sections 4, 6 and 7): API tokens, carts, orders,
-- checkout idempotency, stage history, stock adjustments, feature flags and
-- the transactional outbox. Applied by the owner role; the app role gets DML
-- through the default privileges set in migration 0001, and the grants
-- below say so explicitly anyway.

-- Opaque bearer tokens: only the SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_sha256 bytea       NOT NULL CHECK (length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NULL,
    CONSTRAINT api_tokens_token_sha256_key UNIQUE (token_sha256)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

-- Soft delete for products (order items keep referring to them), and the
-- stock a product was created with, for the stock invariant:
--   stock + sum(quantity in non-cancelled orders)
--     = initial_stock + sum(stock_adjustments.delta)
ALTER TABLE products ADD COLUMN deleted_at timestamptz NULL;
ALTER TABLE products ADD COLUMN initial_stock integer NULL;

CREATE FUNCTION products_set_initial_stock() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.initial_stock := NEW.stock;
    RETURN NEW;
END
$$;
CREATE TRIGGER products_initial_stock
    BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_set_initial_stock();

-- Stock changes that are not orders: restocks and a producer's corrections.
CREATE TABLE stock_adjustments (
    id         bigserial   PRIMARY KEY,
    product_id bigint      NOT NULL REFERENCES products (id),
    delta      integer     NOT NULL CHECK (delta <> 0),
    reason     text        NOT NULL CHECK (reason IN ('restock', 'correction')),
    actor      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_adjustments_product_id_idx ON stock_adjustments (product_id);

CREATE TABLE cart_items (
    id         bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id bigint      NOT NULL REFERENCES products (id),
    quantity   integer     NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cart_items_user_product_key UNIQUE (user_id, product_id)
);

CREATE TABLE orders (
    id               bigserial   PRIMARY KEY,
    -- NULL for a guest checkout.
    user_id          bigint      NULL REFERENCES users (id),
    stage            text        NOT NULL DEFAULT 'PLACED' CHECK (stage IN
                         ('PLACED', 'PREPARING', 'PACKING', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    total_cents      bigint      NOT NULL CHECK (total_cents >= 0),
    shipping_method  text        NOT NULL,
    payment_method   text        NOT NULL,
    shipping_address jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id_idx ON orders (user_id, id);

CREATE TABLE order_items (
    id               bigserial PRIMARY KEY,
    order_id         bigint    NOT NULL REFERENCES orders (id),
    product_id       bigint    NOT NULL REFERENCES products (id),
    -- Snapshots taken at checkout.
    producer_id      bigint    NOT NULL REFERENCES users (id),
    product_name     text      NOT NULL,
    unit_price_cents bigint    NOT NULL CHECK (unit_price_cents >= 0),
    quantity         integer   NOT NULL CHECK (quantity > 0),
    CONSTRAINT order_items_order_product_key UNIQUE (order_id, product_id)
);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);
CREATE INDEX order_items_producer_id_idx ON order_items (producer_id, order_id);

CREATE TABLE order_stage_history (
    id         bigserial   PRIMARY KEY,
    order_id   bigint      NOT NULL REFERENCES orders (id),
    from_stage text        NULL,
    to_stage   text        NOT NULL,
    reason     text        NULL,
    -- 'user:<id>', 'admin' or 'checkout'.
    actor      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_stage_history_order_id_idx ON order_stage_history (order_id, id);

-- Checkout idempotency: the row is inserted in the checkout's own
-- transaction, so a concurrent duplicate waits on the unique key and then
-- reads the committed winner. scope_user_id is the buyer (0 for guests).
CREATE TABLE checkout_idempotency (
    scope_user_id  bigint      NOT NULL,
    idempotency_key text       NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_sha256 bytea       NOT NULL CHECK (length(request_sha256) = 32),
    order_id       bigint      NULL REFERENCES orders (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_user_id, idempotency_key)
);

CREATE TABLE feature_flags (
    key         text        PRIMARY KEY CHECK (key ~ '^[a-z0-9_.-]{1,100}$'),
    enabled     boolean     NOT NULL DEFAULT false,
    rollout     integer     NOT NULL DEFAULT 0 CHECK (rollout BETWEEN 0 AND 100),
    description text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO feature_flags (key, enabled, rollout, description) VALUES
    ('feed_shop_blend', true, 100, 'Blend shop listings into the feed'),
    ('discover_reels', true, 50, 'Reels on the discover page'),
    ('payments_real', false, 100, 'Real payment provider instead of the sandbox'),
    ('rocker_always_on', true, 10, 'Next-best-action assistant always visible');

-- The transactional outbox, relayed to the Redis stream notify.events by the
-- worker. This schema is a contract with the relay.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  event_type text NOT NULL,          -- 'order.created' | 'order.stage_changed'
  aggregate_id bigint NOT NULL,      -- the order id
  payload jsonb NOT NULL,            -- the full event document
  created_at timestamptz NOT NULL DEFAULT now(),
  relayed_at timestamptz
);
CREATE INDEX outbox_unrelayed ON outbox (id) WHERE relayed_at IS NULL;

-- Explicit grants (the default privileges of 0001 cover these already).
GRANT SELECT, INSERT, UPDATE, DELETE ON
    api_tokens, stock_adjustments, cart_items, orders, order_items,
    order_stage_history, checkout_idempotency, feature_flags, outbox
    TO gauntlet_app;
GRANT USAGE, SELECT ON SEQUENCE
    api_tokens_id_seq, stock_adjustments_id_seq, cart_items_id_seq, orders_id_seq,
    order_items_id_seq, order_stage_history_id_seq, outbox_id_seq
    TO gauntlet_app;
