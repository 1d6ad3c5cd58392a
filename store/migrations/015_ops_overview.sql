-- Issue 14: the ops overview (ops/overview.py) reads its figures from the read model with SQL.
-- Two facts it lacked: whether intake asked the customer for photos (a policy rule asked for at
-- least one), and why a case needs attention (domain.details.attention_reasons; a refused refund
-- adds its own reason, store.read_model.flag_attention). Both are CaseSummary fields, so the
-- append's rider and store.read_model.rebuild write them like every other column; rows written
-- before this migration get them at the next event of their case or at a rebuild.
alter table return_cases
    add column photos_asked boolean not null default false,
    add column attention    text[]  not null default '{}';

-- Resolution times and the last 30 days' charts: cases closed per day.
create index return_cases_closed_day_idx on return_cases (closed_at) where closed_at is not null;
