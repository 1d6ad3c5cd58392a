-- Contract 7.1: the repair order a case with resolution repair places, exactly once per
-- idempotency key, like a replacement order. The default privileges of 004 give the service
-- its rights on it.
create table repair_orders (
    idempotency_key text primary key,
    return_id       text        not null,
    order_id        text        not null,
    line_ids        text[]      not null,
    created_at      timestamptz not null default now()
);
