-- The role the service runs as: it may append and read events but never
-- change or remove one. The events trigger already refuses UPDATE, DELETE and
-- TRUNCATE; without the privilege the database refuses them too, even if
-- that trigger is ever dropped or disabled (owners and superusers keep every
-- right: the service must not connect as the owner).
-- Roles are cluster-wide, so create it once; the grants are per database.
-- A login role for the worker is made by the deployment:
--   create role returns_worker login password '...' in role returns_app;
do $$
begin
    if not exists (select from pg_roles where rolname = 'returns_app') then
        create role returns_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null;  -- another database of this cluster migrated at the same moment
end $$;

grant usage on schema public to returns_app;

-- Projections and ledgers: the service writes them (whatever migration made
-- them); the read model may be rebuilt from the events (truncate + refill).
grant select, insert, update, delete on all tables in schema public to returns_app;
grant usage, select on all sequences in schema public to returns_app;
grant truncate on return_cases to returns_app;

-- Events are appended and read, nothing else; append_events moves the
-- stream's version in streams. Migrations are the admin's.
revoke update, delete, truncate on events from returns_app;
revoke insert, update, delete on schema_migrations from returns_app;

-- Tables of later migrations, made by the migrating role, get the same
-- rights; a later append-only table revokes update and delete itself.
alter default privileges in schema public
    grant select, insert, update, delete on tables to returns_app;
alter default privileges in schema public
    grant usage, select on sequences to returns_app;
