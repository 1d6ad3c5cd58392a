-- The HTTP API (issue 11): keys per role, idempotent actions, and the read model's
-- needs_attention flag for ops' list.

-- Keys: only the sha256 of the secret is stored. Created and revoked by the CLI as the
-- owner; the service only reads them (and notes when a key was last used).
create table api_keys (
    key_id       text primary key,
    role         text        not null check (role in ('webshop', 'warehouse', 'ops')),
    actor        text,
    label        text        not null default '',
    secret_hash  bytea       not null,
    created_at   timestamptz not null default now(),
    revoked_at   timestamptz,
    last_used_at timestamptz,
    check (role <> 'ops' or actor is not null)
);
revoke insert, delete, truncate on api_keys from returns_app;
revoke update on api_keys from returns_app;
grant update (last_used_at) on api_keys to returns_app;

-- The first answer to an Idempotency-Key, per API key: a repeat with the same request gets it
-- again; completed_at is null while the first is still being applied.
create table api_idempotency (
    key_id          text        not null,
    idempotency_key text        not null,
    fingerprint     text        not null,
    status_code     int,
    response        jsonb,
    created_at      timestamptz not null default now(),
    completed_at    timestamptz,
    primary key (key_id, idempotency_key)
);

-- Ops' "needs attention" list from the read model (domain.details.attention_reasons).
alter table return_cases add column needs_attention boolean not null default false;
create index return_cases_opened_idx on return_cases (opened_at, return_id);
create index return_cases_attention_idx on return_cases (opened_at, return_id) where needs_attention;
