"""Partitions by date: replacing a date's rows swaps one partition; retention drops one.

`predictions` and every staging table become LIST-partitioned by `data_date`, one
partition per date. A writer fills a staged table shaped like the parent for its
date, and publishing it builds the parent's indexes on it (a sorted build, not
one entry per row) and swaps it in for the date's partition: the parent is locked
only for the swap, and no deleted rows are left for VACUUM. The pipeline's writer
role has no DDL rights, so these SECURITY DEFINER functions do the DDL for it,
on partitioned tables of this schema only:

  begin_partition(parent, day, area)      an empty staged table for that date
  publish_partition(parent, day, staged)  the staged table(s) become the date's partition
  drop_partition(parent, day)             retention

`predictions` loses its foreign key to `model_versions`, checked per row at a cost
of 57% of the ingest: scoring checks the champion's version once per transaction.
Its `model_version` index becomes BRIN: a partition holds one run, so the summary
skips whole partitions. `staging_batches.pruned_at` marks a partition dropped by
retention (its batch and validation rows stay, for audits), and `prediction_shards`
records the shards of a sharded scoring run until they are published.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

FUNCTIONS = """
-- `parent_yyyymmdd`; a long parent name is cut and given a hash, so that a staged
-- table's name (partition_area) stays within PostgreSQL's 63 characters.
CREATE FUNCTION partition_name(parent text, day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN length(parent) <= 40 THEN parent
                ELSE left(parent, 31) || '_' || left(md5(parent), 8) END
           || '_' || to_char(day, 'YYYYMMDD')
$$;

CREATE FUNCTION partitioned_table(parent text) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = "{schema}", pg_temp AS $$
DECLARE found regclass;
BEGIN
    SELECT c.oid INTO found FROM pg_class c
    WHERE c.relname = parent AND c.relnamespace = '"{schema}"'::regnamespace AND c.relkind = 'p';
    IF found IS NULL THEN
        RAISE EXCEPTION 'not a partitioned table of schema {schema}: %', parent;
    END IF;
    RETURN found;
END $$;

-- A table of this name that is not a partition, or no table: what a staged name may replace.
CREATE FUNCTION check_staged(name text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = "{schema}", pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_class WHERE oid = to_regclass(quote_ident(name))
               AND (relkind <> 'r' OR relispartition)) THEN
        RAISE EXCEPTION 'not a staged table: %', name;
    END IF;
END $$;

CREATE FUNCTION begin_partition(parent text, day date, area text DEFAULT 'next') RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = "{schema}", pg_temp AS $$
DECLARE staged text := partition_name(parent, day) || '_' || area;
BEGIN
    PERFORM partitioned_table(parent);
    IF area !~ '^[a-z0-9]+$' OR length(area) > 13 THEN
        RAISE EXCEPTION 'area must be 1 to 13 lowercase letters or digits: %', area;
    END IF;
    PERFORM check_staged(staged);
    EXECUTE format('DROP TABLE IF EXISTS %I', staged);  -- left by a failed run of this area
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS, CHECK (data_date = %L))',
                   staged, parent, day);
    RETURN staged;
END $$;

CREATE FUNCTION publish_partition(parent text, day date, staged text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = "{schema}", pg_temp AS $$
DECLARE
    part text := partition_name(parent, day);
    target text := staged[1];
    source text;
    idx record;
BEGIN
    PERFORM partitioned_table(parent);
    IF cardinality(staged) IS NULL THEN
        RAISE EXCEPTION 'nothing staged to publish for % %', parent, day;
    END IF;
    FOREACH source IN ARRAY staged LOOP
        IF left(source, length(part) + 1) <> part || '_' OR to_regclass(quote_ident(source)) IS NULL THEN
            RAISE EXCEPTION 'not a staged table of % for %: %', parent, day, source;
        END IF;
        PERFORM check_staged(source);
    END LOOP;
    IF cardinality(staged) > 1 THEN
        target := begin_partition(parent, day, 'merged');
        FOREACH source IN ARRAY staged LOOP
            EXECUTE format('INSERT INTO %I SELECT * FROM %I', target, source);
            EXECUTE format('DROP TABLE %I', source);
        END LOOP;
    END IF;
    -- The parent's indexes and keys, built on the filled table before the parent is locked.
    FOR idx IN SELECT i.indexrelid, c.oid AS constraint_oid
               FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
               WHERE i.indrelid = partitioned_table(parent) LOOP
        IF idx.constraint_oid IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ADD %s', target, pg_get_constraintdef(idx.constraint_oid));
        ELSE
            EXECUTE regexp_replace(pg_get_indexdef(idx.indexrelid), 'INDEX \\S+ ON ONLY \\S+',
                                   format('INDEX ON %I', target));
        END IF;
    END LOOP;
    IF to_regclass(quote_ident(part)) IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_inherits WHERE inhrelid = to_regclass(quote_ident(part))
                                  AND inhparent = partitioned_table(parent)) THEN
        RAISE EXCEPTION 'not a partition of %: %', parent, part;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %I', part);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', target, part);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%L)', parent, part, day);
END $$;

CREATE FUNCTION drop_partition(parent text, day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = "{schema}", pg_temp AS $$
DECLARE part regclass := to_regclass(quote_ident(partition_name(parent, day)));
BEGIN
    PERFORM partitioned_table(parent);
    IF part IS NULL OR NOT EXISTS (
        SELECT FROM pg_inherits WHERE inhrelid = part AND inhparent = partitioned_table(parent)) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %s', part);
    RETURN true;
END $$;

REVOKE ALL ON FUNCTION begin_partition(text, date, text), publish_partition(text, date, text[]),
    drop_partition(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION begin_partition(text, date, text), publish_partition(text, date, text[]),
    drop_partition(text, date) TO "{schema}_writer";
"""

DROP_FUNCTIONS = """
DROP FUNCTION begin_partition(text, date, text), publish_partition(text, date, text[]),
    drop_partition(text, date), check_staged(text), partitioned_table(text), partition_name(text, date);
"""

PARTITION_STATUS = """
CREATE OR REPLACE VIEW partition_status AS
    SELECT b.dataset, b.data_date, b.row_count, b.extracted_at,
           v.success, v.failed, v.failures, v.report_path, v.validated_at, v.run_id AS validation_run_id
    FROM staging_batches b
    LEFT JOIN LATERAL (
        SELECT * FROM validation_runs v
        WHERE v.suite = b.dataset AND v.data_date = b.data_date AND v.validated_at >= b.extracted_at
        ORDER BY v.validated_at DESC LIMIT 1
    ) v ON true
    {where};
"""

# Views reading predictions, as they stand (0001's, and any added since): PostgreSQL
# keeps a view bound to the table it read, so they are recreated on the new one.
DEPENDENT_VIEWS = """
    SELECT DISTINCT v.oid, v.relname, pg_get_viewdef(v.oid)
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.refobjid = 'predictions'::regclass AND v.relname <> 'predictions'
    ORDER BY v.oid"""
OLD = "before_0005"  # a table's name while its rows move to the new one


def upgrade(schema: str) -> None:
    op.execute(FUNCTIONS.format(schema=schema))
    views = _drop_views()
    _rebuild("predictions", partitioned=True, indexes=[PREDICTIONS_KEY, PREDICTIONS_BRIN])
    for table in _staging_tables():
        _rebuild(table, partitioned=True, indexes=_indexes(table, but_date=True))
    _create_views(views)
    op.execute("ALTER TABLE staging_batches ADD COLUMN pruned_at timestamptz")
    # A pruned partition's batch is no longer staged: it is neither scored nor trained on.
    op.execute(PARTITION_STATUS.format(where="WHERE b.pruned_at IS NULL"))
    op.execute("""
    -- Shards of a sharded scoring run, each in its own staged table, until one task publishes them.
    CREATE TABLE prediction_shards (
        data_date      date NOT NULL,
        run_id         text NOT NULL,
        shard          integer NOT NULL,
        shards         integer NOT NULL CHECK (shard >= 0 AND shard < shards),
        staged_table   text NOT NULL,
        model_version  text NOT NULL,
        extracted_at   timestamptz NOT NULL,
        row_count      bigint NOT NULL,
        scored_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (data_date, run_id, shard)
    );
    """)


def downgrade(schema: str) -> None:
    op.execute("DROP TABLE prediction_shards")
    op.execute(PARTITION_STATUS.format(where=""))
    op.execute("ALTER TABLE staging_batches DROP COLUMN pruned_at")
    views = _drop_views()
    for table in _staging_tables():
        date_index = f'CREATE INDEX "{table}_data_date_idx" ON "{table}" (data_date)'
        _rebuild(table, partitioned=False, indexes=[*_indexes(table, but_date=False), date_index])
    _rebuild("predictions", partitioned=False, indexes=[PREDICTIONS_KEY, PREDICTIONS_FK, PREDICTIONS_BTREE])
    _create_views(views)
    op.execute(DROP_FUNCTIONS)


PREDICTIONS_KEY = "ALTER TABLE predictions ADD PRIMARY KEY (data_date, entity_id)"
PREDICTIONS_BRIN = "CREATE INDEX predictions_model_version_idx ON predictions USING brin (model_version)"
PREDICTIONS_FK = "ALTER TABLE predictions ADD FOREIGN KEY (model_version) REFERENCES model_versions"
PREDICTIONS_BTREE = "CREATE INDEX predictions_model_version_idx ON predictions (model_version)"


def _staging_tables() -> list[str]:
    """The data contract's staging tables, whatever the contract: every staging_* table but the batches."""
    query = sa.text(
        r"""SELECT relname FROM pg_class
            WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
              AND NOT relispartition AND relname LIKE 'staging\_%' AND relname <> 'staging_batches'
            ORDER BY 1"""
    )
    return list(op.get_bind().execute(query).scalars())


def _indexes(table: str, but_date: bool) -> list[str]:
    """CREATE INDEX statements for `table`'s indexes, as they would be on a new table of that name;
    `but_date` leaves out an index on data_date alone (pointless when a partition holds one date)."""
    rows = op.get_bind().execute(
        sa.text(
            """SELECT pg_get_indexdef(i.indexrelid), a.attname FROM pg_index i
               LEFT JOIN pg_attribute a ON i.indnkeyatts = 1 AND a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = CAST(:table AS regclass)"""
        ),
        {"table": f'"{table}"'},
    )
    return [
        definition.replace(" ON ONLY ", " ON ")
        for definition, single in rows
        if not (but_date and single == "data_date")
    ]


def _rebuild(table: str, partitioned: bool, indexes: list[str]) -> None:
    """`table` rebuilt as a partitioned (or plain) table with the same columns and rows, and `indexes`."""
    bind = op.get_bind()
    op.execute(f'ALTER TABLE "{table}" RENAME TO {OLD}')
    # Free the names of its keys and indexes for the new table.
    old = {"old": OLD}
    keys = (
        "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:old AS regclass) AND contype IN ('p', 'f')"
    )
    for constraint in bind.execute(sa.text(keys), old).scalars().all():
        op.execute(f'ALTER TABLE {OLD} DROP CONSTRAINT "{constraint}"')
    indexes_of_old = "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:old AS regclass)"
    for index in bind.execute(sa.text(indexes_of_old), old).scalars().all():
        op.execute(f"DROP INDEX {index}")
    layout = " PARTITION BY LIST (data_date)" if partitioned else ""
    op.execute(f'CREATE TABLE "{table}" (LIKE {OLD} INCLUDING DEFAULTS){layout}')
    for statement in indexes:
        op.execute(statement)
    if partitioned:
        _move_by_date(table)
    else:
        op.execute(f'INSERT INTO "{table}" SELECT * FROM {OLD}')  # noqa: S608
    op.execute(f"DROP TABLE {OLD}")


def _move_by_date(table: str) -> None:
    """The old table's rows into the partitioned one, one date (one partition) at a time."""
    bind = op.get_bind()
    for day in bind.execute(sa.text(f"SELECT DISTINCT data_date FROM {OLD}")).scalars().all():  # noqa: S608
        staged = bind.execute(sa.text("SELECT begin_partition(:t, :d)"), {"t": table, "d": day}).scalar()
        bind.execute(sa.text(f'INSERT INTO "{staged}" SELECT * FROM {OLD} WHERE data_date = :d'), {"d": day})  # noqa: S608
        bind.execute(
            sa.text("SELECT publish_partition(:t, :d, ARRAY[:s])"), {"t": table, "d": day, "s": staged}
        )


def _drop_views() -> list[tuple[str, str]]:
    views = [(name, body) for _, name, body in op.get_bind().execute(sa.text(DEPENDENT_VIEWS))]
    for name, _ in reversed(views):
        op.execute(f'DROP VIEW "{name}"')
    return views


def _create_views(views: list[tuple[str, str]]) -> None:
    for name, body in views:
        op.execute(f'CREATE VIEW "{name}" AS\n{body}')
