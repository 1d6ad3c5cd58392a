-- Subscriptions: readers of all events (the webhook and e-mail relays) follow the order
-- (transaction_id, global_position), reading only below the oldest running transaction.
-- Positions alone are not enough: a transaction may take a lower global_position and commit
-- after a higher one was read. Below pg_snapshot_xmin every transaction has ended, and every
-- later one gets a higher transaction id, so nothing can still appear before a checkpoint.
create index events_transaction_order_idx on events (transaction_id, global_position);

-- One checkpoint per subscription, advanced in the reader's own transaction together with
-- what it did with the events (its delivery record), so both commit or neither does.
create table subscriptions (
    name          text        primary key,
    last_tx       xid8        not null default '0',
    last_position bigint      not null default 0,
    updated_at    timestamptz not null default now()
);

-- The service reads and advances checkpoints. Forgetting one (a replay from the start)
-- is an operator's act, not the service's.
grant select, insert, update on subscriptions to returns_app;
revoke delete, truncate on subscriptions from returns_app;
