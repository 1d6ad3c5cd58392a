-- Refunds go through a payment provider (payments/): the ledger row records which one made it,
-- the provider's refund id (none for the embedded ledger) and its status. Rows from before were
-- the ledger's own.
alter table refunds add column provider text not null default 'ledger';
alter table refunds add column provider_refund_id text;
alter table refunds add column status text not null default 'succeeded';
