-- Store credit redeemed by the shop (issue 12, part 4): a shop without gift cards of its own
-- reads the service's balance and redeems it over the API. One row per redemption, unique on the
-- customer and the shop's reference (its order id), so a retried redemption redeems once; it moves
-- customer_balances in the same transaction, as a grant does, so the balance is always the sum
-- of grants less redemptions.
create table store_credit_redemptions (
    redemption_id   bigint generated always as identity primary key,
    customer_id     text          not null,
    reference       text          not null,
    amount          numeric(12,2) not null check (amount > 0),
    idempotency_key text,
    created_at      timestamptz   not null default now(),
    unique (customer_id, reference)
);

create index store_credit_redemptions_customer_idx on store_credit_redemptions (customer_id, created_at);
create index store_credits_customer_idx on store_credits (customer_id, created_at);

-- A balance never goes below zero: redemptions lock the customer's row and check first; this
-- refuses whatever would get past that.
alter table customer_balances add constraint customer_balances_not_negative check (balance >= 0);

-- The books keep every redemption: the service records them and (erasure only) moves them to the
-- customer's pseudonym, never removes one.
revoke delete, truncate on store_credit_redemptions from returns_app;
