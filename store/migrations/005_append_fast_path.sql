-- append_events, fast path first: when the stream is where the caller expects
-- it (nearly always), one statement moves and locks it and one inserts the
-- events. Only otherwise the checks of 001 run (duplicate retry, conflict),
-- in the same order. Event ids reused while the version matches fail the
-- insert on events' unique event_id; the store reports that as a conflict.
create or replace function append_events(
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
    v_claimed int;
begin
    if v_n = 0 or cardinality(p_types) <> v_n or cardinality(p_data) <> v_n then
        raise exception 'append_events: need equally long, non-empty arrays'
            using errcode = '22023';
    end if;

    -- A concurrent writer at the same version waits on the row (or on the
    -- uncommitted new row), then finds it moved and claims nothing.
    if p_expected = 0 then
        insert into streams (stream_id, version) values (p_stream, v_n)
            on conflict (stream_id) do nothing;
    else
        update streams set version = p_expected + v_n
            where stream_id = p_stream and version = p_expected;
    end if;
    get diagnostics v_claimed = row_count;

    if v_claimed = 0 then
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
        update streams set version = p_expected + v_n where stream_id = p_stream;
    end if;

    insert into events (event_id, stream_id, stream_version, type, data)
        select t.id, p_stream, p_expected + t.ord::int, t.type, t.data
        from unnest(p_ids, p_types, p_data) with ordinality as t (id, type, data, ord);
    return p_expected + v_n;
end $$;
