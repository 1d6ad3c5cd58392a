-- Read model of return cases, written in the same transaction as the events
-- (or rebuilt from them), keyed by the stream version it reflects.
create table return_cases (
    return_id         text primary key,
    order_id          text          not null,
    customer_id       text          not null,
    kind              text          not null,
    status            text          not null,
    resolution        text,
    gross             numeric(12,2) not null,
    total             numeric(12,2) not null,
    refunded          numeric(12,2) not null,
    store_credit      numeric(12,2) not null,
    customer_messages text[]        not null default '{}',
    opened_at         timestamptz   not null,
    closed_at         timestamptz,
    stream_version    int           not null,
    updated_at        timestamptz   not null default now()
);

create index return_cases_customer_idx on return_cases (customer_id);
create index return_cases_status_idx on return_cases (status);
