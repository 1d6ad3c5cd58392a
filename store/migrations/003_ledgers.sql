-- Ledgers of the fake outside systems. The idempotency key is the primary key
-- so a retried activity inserts nothing the second time.
create table refunds (
    idempotency_key   text primary key,
    return_id         text          not null,
    amount            numeric(12,2) not null,
    payment_method    text          not null,
    payment_reference text          not null,
    created_at        timestamptz   not null default now()
);

create table store_credits (
    idempotency_key text primary key,
    return_id       text          not null,
    customer_id     text          not null,
    amount          numeric(12,2) not null,
    created_at      timestamptz   not null default now()
);

create table customer_balances (
    customer_id text primary key,
    balance     numeric(12,2) not null default 0
);

create table replacement_orders (
    idempotency_key text primary key,
    return_id       text        not null,
    order_id        text        not null,
    line_ids        text[]      not null,
    created_at      timestamptz not null default now()
);

create table licence_revocations (
    idempotency_key text primary key,
    return_id       text        not null,
    order_id        text        not null,
    line_id         text        not null,
    sku             text        not null,
    created_at      timestamptz not null default now()
);

create table outbox (
    idempotency_key text primary key,
    return_id       text        not null,
    customer_id     text        not null,
    email           text        not null,
    template        text        not null,
    data            jsonb       not null,
    text            text        not null,
    created_at      timestamptz not null default now()
);
