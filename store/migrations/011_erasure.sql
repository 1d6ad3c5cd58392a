-- Erasure (issue 16, GDPR Art. 17): the tombstone of an erased customer. Migration 010 (the key
-- store) makes erased_customers; "if not exists" keeps this one whole on its own too.
create table if not exists erased_customers (
    customer_id text        primary key,
    erased_at   timestamptz not null default now(),
    actor       text        not null,
    reason      text        not null
);

-- The pseudonym the customer's read-model and ledger rows carry from their erasure on (made once
-- per customer: a rebuild of the read model puts it back), and the erasure that wrote the
-- tombstone last (a retried step of the same erasure changes nothing).
alter table erased_customers add column if not exists pseudonym text;
alter table erased_customers add column if not exists erasure_id text;

-- The retention sweep asks which customers' cases all closed long ago.
create index if not exists return_cases_closed_idx on return_cases (customer_id, closed_at);

-- A tombstone is the record that an erasure happened: the service writes and renews it, never
-- removes it.
grant select, insert, update on erased_customers to returns_app;
revoke delete, truncate on erased_customers from returns_app;
