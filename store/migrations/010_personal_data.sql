-- Crypto-shredding of personal data (issue 16; store/personal_data.py, domain/personal.py).
--
-- Personal fields of stored events, outbox rows, webhook payloads and idempotency answers are
-- sealed (AES-256-GCM) under a data key (DEK) of their customer. Each DEK is 32 random bytes,
-- kept here only wrapped (AES-GCM) under a master key (KEK) from RETURNS_MASTER_KEYS, named by
-- kek_id so the master keys rotate (`python -m api personal-data rewrap`). Erasing a customer
-- deletes their rows here: the events keep folding, their personal fields read as erased.
-- One key per customer generation: a customer who comes back after erasure gets C-42/2.
create table data_keys (
    key_id      text        primary key,             -- "<customer_id>/<generation>"
    customer_id text        not null,
    generation  int         not null check (generation >= 1),
    wrapped     bytea       not null,                -- nonce || AES-GCM(kek, dek, aad = key_id)
    kek_id      text        not null,
    created_at  timestamptz not null default now(),
    unique (customer_id, generation)
);

-- The tombstone of an erasure (who, when, why). key_generations: the last generation whose key
-- the erasure deleted, so a returning customer's next key never reuses an erased key's id.
create table erased_customers (
    customer_id     text        primary key,
    erased_at       timestamptz not null default now(),
    actor           text        not null,
    reason          text        not null,
    key_generations int         not null default 0
);

-- The service (returns_app, default privileges of 004) reads, creates and (through erasure
-- only) deletes keys; it never changes whom a key belongs to. Rewrapping under a new master
-- key changes only the wrapped key and its kek_id.
revoke update, truncate on data_keys from returns_app;
grant update (wrapped, kek_id) on data_keys to returns_app;
-- A tombstone stays.
revoke delete, truncate on erased_customers from returns_app;
-- VACUUM FULL data_keys after an erasure (store.personal_data.vacuum_keys): the deleted key rows
-- leave the table's files (a plain VACUUM may leave their bytes in free space).
grant maintain on data_keys to returns_app;

-- The outbox (the mail store for now): with sealing on, the e-mail address, template data and
-- text are sealed under the customer's key in `sealed` ({key, ct}); the clear columns then hold
-- the erased values (erased@erased.invalid, {}, ''). Rows written before stay as they were.
alter table outbox add column sealed jsonb;
