-- A provider's refund starts pending and ends refunded/succeeded, or failed/canceled; the refund
-- follower (payments/follower.py) asks the provider until it is final and records what it says.
--
-- next_check_at: when the follower asks next; null once the status is final (and for the ledger's
-- own refunds, final at once). A follower takes due rows with `for update skip locked` and moves
-- next_check_at past its lease in the same statement (lease_id names the taker), so several
-- workers never ask twice for one row; a follower that dies leaves the row due once the lease
-- ends. checks: how often the provider was asked (the backoff doubles with it); checked_at: when
-- it last answered; check_error: its last error (no secrets), cleared by its next answer.
alter table refunds
    add column next_check_at timestamptz,
    add column checks        int not null default 0,
    add column lease_id      uuid,
    add column checked_at    timestamptz,
    add column check_error   text;

-- Provider refunds recorded before: followed from now on, unless they ended well when made (a
-- refund that was answered failed or canceled at once is read back once, and its case flagged).
update refunds set next_check_at = now()
where provider_refund_id is not null and status not in ('succeeded', 'refunded');

create index refunds_to_check on refunds (next_check_at) where next_check_at is not null;
