-- Issue 12: customer e-mails leave the service. The outbox row is written by the append that
-- records its message_sent (one statement, see store/outbox.py), and the mail relay
-- (mail/relay.py) delivers it over SMTP at least once, with a stable Message-ID.
--
-- state: queued (waiting or being retried), sent (the SMTP server accepted it), failed (a
-- permanent 5xx answer; the case is flagged for ops), erased (the customer was erased before it
-- went out: nothing left to send). A lease (leased_until, lease_id) keeps a row with one relay at
-- a time; `seq` orders a case's messages (a case's appends are serialised by its version, so
-- within a case the order of seq is the order of commit).
alter table outbox
    add column seq             bigint generated always as identity,
    add column state           text        not null default 'queued'
        check (state in ('queued', 'sent', 'failed', 'erased')),
    add column attempts        int         not null default 0,
    add column next_attempt_at timestamptz not null default now(),
    add column leased_until    timestamptz,
    add column lease_id        uuid,
    add column last_error      text,
    add column sent_at         timestamptz,
    add column smtp_message_id text;

-- Rows written before this migration were never relayed: no mail left the service, and the shop
-- sent them itself (the manual work this issue removes). Sending them now would reach customers
-- weeks late, so they count as sent, with no sent_at or Message-ID: not sent by the relay.
update outbox set state = 'sent';

create index outbox_queued on outbox (next_attempt_at) where state = 'queued';
create index outbox_of_return on outbox (return_id, seq);

-- Wakes the relay (LISTEN returns_outbox) when the append's transaction commits; it also polls.
create function outbox_queued_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('returns_outbox', '');
    return null;
end $$;

create trigger outbox_queued after insert on outbox
    for each statement execute function outbox_queued_notify();

-- The service marks rows sent or failed but never removes one: the record of what was sent.
revoke delete, truncate on outbox from returns_app;
