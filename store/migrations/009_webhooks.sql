-- Webhooks to the shop (webhooks/): endpoints with their signing secrets, one message per event
-- and endpoint (made by the relay from the gap-free subscription "webhooks"), and the delivery
-- log of every attempt.

create table webhook_endpoints (
    endpoint_id     text        primary key,            -- "ep_..."
    url             text        not null,
    description     text        not null default '',
    event_types     text[]      not null default '{}',  -- empty: every type
    enabled         boolean     not null default true,
    disabled_at     timestamptz,
    disabled_reason text,
    created_at      timestamptz not null default now()
);

-- Signing secrets: they must be used again to sign, so they are encrypted (AES-GCM under the
-- payload keys, payload/codec.py; key_id names the key, so payload keys rotate), never hashed.
-- A rotation gives the old secret an expires_at (its grace period); during it every unexpired
-- secret signs.
create table webhook_secrets (
    endpoint_id text        not null references webhook_endpoints on delete cascade,
    secret_no   int         not null,
    sealed      bytea       not null,
    key_id      text        not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz,                             -- null: the current secret
    primary key (endpoint_id, secret_no)
);

-- One message per (endpoint, event): msg_id is derived from both, so it is stable (the
-- webhook-id header, a receiver's dedup key) and the relay's insert is idempotent.
create table webhook_messages (
    msg_id          text        primary key,
    endpoint_id     text        not null references webhook_endpoints on delete cascade,
    event_id        uuid        not null,
    return_id       text        not null,
    transaction_id  xid8        not null,                -- the event's position: the order
    global_position bigint      not null,
    event_type      text        not null,
    payload         jsonb       not null,
    status          text        not null default 'pending'
                    check (status in ('pending', 'delivered', 'failed')),
    attempts        int         not null default 0,
    next_attempt_at timestamptz not null default now(),
    leased_until    timestamptz,
    lease_id        uuid,
    first_attempt_at timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz not null default now(),
    unique (endpoint_id, event_id)
);
-- The sender's due query: the pending messages, and per endpoint and case the earliest one.
create index webhook_messages_pending_idx on webhook_messages (next_attempt_at)
    where status <> 'delivered';
create index webhook_messages_case_order_idx
    on webhook_messages (endpoint_id, return_id, transaction_id, global_position);

-- The delivery log: every attempt, kept (a shop asks "what did you send me, and when").
create table webhook_attempts (
    attempt_id   bigint      generated always as identity primary key,
    msg_id       text        not null references webhook_messages on delete cascade,
    endpoint_id  text        not null references webhook_endpoints on delete cascade,
    attempt      int         not null,
    attempted_at timestamptz not null default now(),
    http_status  int,
    error        text,
    duration_ms  int         not null
);
create index webhook_attempts_endpoint_idx on webhook_attempts (endpoint_id, attempt_id desc);
create index webhook_attempts_msg_idx on webhook_attempts (msg_id);

-- The service (returns_app, default privileges of 004) manages endpoints and messages; the
-- delivery log is append-only for it.
revoke update, delete, truncate on webhook_attempts from returns_app;
revoke truncate on webhook_endpoints, webhook_secrets, webhook_messages from returns_app;
