-- Event store: one globally ordered, append-only events table plus a tiny
-- streams table whose row is locked per append, so different streams never
-- block each other.

create table streams (
    stream_id text primary key,
    version   int  not null
);

create table events (
    global_position bigint generated always as identity primary key,
    event_id        uuid        not null unique,
    stream_id       text        not null,
    stream_version  int         not null,
    type            text        not null,
    data            jsonb       not null,
    recorded_at     timestamptz not null default now(),
    -- Lets position readers stop below the oldest running transaction, so a
    -- late-committing append is never skipped.
    transaction_id  xid8        not null default pg_current_xact_id(),
    unique (stream_id, stream_version)
);

create function events_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'events are append-only (% refused)', tg_op
        using errcode = 'RS002';
end $$;

create trigger events_append_only
    before update or delete on events
    for each row execute function events_refuse_change();

create trigger events_no_truncate
    before truncate on events
    for each statement execute function events_refuse_change();

-- Appends a batch in one round trip. Order of checks matters: a retry of an
-- already-committed batch must succeed even though its expected version is
-- now stale.
create function append_events(
    p_stream   text,
    p_expected int,
    p_ids      uuid[],
    p_types    text[],
    p_data     jsonb[]
) returns int
language plpgsql as $$
declare
    v_n       int := coalesce(cardinality(p_ids), 0);
    v_version int;
    v_found   int;
    v_here    int;
begin
    if v_n = 0 or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n then
        raise exception 'append_events: need equally long, non-empty arrays'
            using errcode = '22023';
    end if;

    -- Upsert then lock: concurrent first appends to a new stream serialise
    -- on the primary key instead of failing.
    insert into streams (stream_id, version) values (p_stream, 0)
        on conflict (stream_id) do nothing;
    select version into v_version from streams
        where stream_id = p_stream for update;

    select count(*), count(*) filter (where stream_id = p_stream)
        into v_found, v_here
        from events where event_id = any (p_ids);
    if v_found > 0 then
        if v_here = v_n then
            return v_version;  -- duplicate retry: already recorded
        end if;
        raise exception 'conflict: % of % event ids already recorded elsewhere on stream %',
            v_found, v_n, p_stream
            using errcode = 'RS001';
    end if;

    if v_version <> p_expected then
        raise exception 'conflict: stream % is at version %, expected %',
            p_stream, v_version, p_expected
            using errcode = 'RS001';
    end if;

    insert into events (event_id, stream_id, stream_version, type, data)
        select t.id, p_stream, p_expected + t.ord::int, t.type, t.data
        from unnest(p_ids, p_types, p_data) with ordinality as t (id, type, data, ord);

    update streams set version = p_expected + v_n where stream_id = p_stream;
    return p_expected + v_n;
end $$;
