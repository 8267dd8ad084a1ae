-- fulfil's shared store, version 1. Plain SQL that PostgreSQL, CockroachDB and YugabyteDB all
-- accept: no procedural code, no serial columns, no advisory locks.

-- The head of the change log: the last sequence number, behind one row whose lock orders every
-- writer (a writer holds it from reading the changes it missed until its commit).
CREATE TABLE IF NOT EXISTS fulfil_head (
    id integer PRIMARY KEY,
    seq bigint NOT NULL,
    network_version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fulfil_head (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

-- Every acknowledged change, in the one order all replicas apply them (the system of record).
CREATE TABLE IF NOT EXISTS fulfil_changes (
    seq bigint PRIMARY KEY,
    kind text NOT NULL,
    record jsonb NOT NULL,
    bytes integer NOT NULL,
    replica text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

-- The state at one sequence number, as records; changes up to the one before are dropped.
CREATE TABLE IF NOT EXISTS fulfil_checkpoints (
    seq bigint PRIMARY KEY,
    records jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

-- The network files of each scenario a change loaded, by the hash the change names.
CREATE TABLE IF NOT EXISTS fulfil_scenario_files (
    sha256 text NOT NULL,
    name text NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (sha256, name)
);

-- The state after the last change, written in the same transaction as the change.
CREATE TABLE IF NOT EXISTS fulfil_stock (
    node_id text NOT NULL,
    sku text NOT NULL,
    on_hand bigint NOT NULL,
    safety_stock bigint NOT NULL,
    -- What reservations may take: on_hand − safety_stock (at least 0), plus the inbound units
    -- the policy lets orders allocate.
    sellable bigint NOT NULL,
    reserved bigint NOT NULL,
    PRIMARY KEY (node_id, sku)
);

-- day: days since 1970-01-01 (UTC); -2147483648 for orders without a day.
CREATE TABLE IF NOT EXISTS fulfil_capacity (
    node_id text NOT NULL,
    day integer NOT NULL,
    used bigint NOT NULL,
    PRIMARY KEY (node_id, day)
);

CREATE TABLE IF NOT EXISTS fulfil_reservations (
    id text PRIMARY KEY,
    order_id text NOT NULL,
    state text NOT NULL,
    day integer,
    expires_at_ms bigint NOT NULL,
    allocations jsonb NOT NULL,
    seq bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS fulfil_reservations_order ON fulfil_reservations (order_id);
