//! The SDK's v1 SQLite schema, table for table and index for index.
//!
//! Declared types, NOT NULL and DEFAULT clauses and index names are the SDK's: its readers run
//! their "create if missing, then migrate" step on every file they open, and a file that already
//! has every table, column and index needs no migration at all (older readers, which cannot
//! migrate forward, expect the same). The order of creation is the SDK's too, except that the
//! grant lookup indexes are built last, once every grant is written ([`DEFERRED_INDEXES`]): one
//! sort per index instead of five B-tree updates per grant roughly triples grant throughput.
//! Readers look schema objects up by name, so the order is not visible to them. Some details
//! only make sense historically and are kept anyway:
//!
//! - the resource index names do not describe their columns (`..._external_sync_v1` indexes the
//!   parent columns, `..._parent_resource_id_v1` is the unique `(external_id, sync_id)` one);
//! - `v1_connector_sessions` declares `key TEXT` and `value BLOB` in upper case, unlike every
//!   other column;
//! - the two partial grant indexes come last because the SDK adds them in a migration step that
//!   runs after the grants table's own indexes.

pub(crate) const RESOURCE_TYPES: &str = "v1_resource_types";
pub(crate) const RESOURCES: &str = "v1_resources";
pub(crate) const ENTITLEMENTS: &str = "v1_entitlements";
pub(crate) const SYNC_RUNS: &str = "v1_sync_runs";
pub(crate) const GRANTS: &str = "v1_grants";

/// Every table and index, in the SDK's order of creation.
pub(crate) const DDL: &str = "
CREATE TABLE v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
CREATE UNIQUE INDEX idx_resource_types_external_sync_v1
    ON v1_resource_types (external_id, sync_id);

CREATE TABLE v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
CREATE INDEX idx_resources_resource_type_id_v1
    ON v1_resources (resource_type_id);
CREATE INDEX idx_resources_external_sync_v1
    ON v1_resources (parent_resource_type_id, parent_resource_id);
CREATE UNIQUE INDEX idx_resources_parent_resource_id_v1
    ON v1_resources (external_id, sync_id);

CREATE TABLE v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
CREATE INDEX idx_entitlements_resource_id_v1
    ON v1_entitlements (resource_type_id, resource_id);
CREATE UNIQUE INDEX idx_entitlements_external_sync_v1
    ON v1_entitlements (external_id, sync_id);

CREATE TABLE v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);
CREATE UNIQUE INDEX idx_sync_runs_sync_id_v1
    ON v1_sync_runs (sync_id);

CREATE TABLE v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
CREATE UNIQUE INDEX idx_grants_external_sync_v1
    ON v1_grants (external_id, sync_id);

CREATE TABLE v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
CREATE UNIQUE INDEX idx_assets_external_sync_v1
    ON v1_assets (external_id, sync_id);

CREATE TABLE v1_connector_sessions (
    id integer primary key,
    sync_id text not null,
    key TEXT not null,
    value BLOB not null
);
CREATE UNIQUE INDEX idx_session_store_sync_key_v1
    ON v1_connector_sessions (sync_id, key);
";

/// The grant lookup indexes, built in one sort each once every grant is written.
pub(crate) const DEFERRED_INDEXES: &str = "
CREATE INDEX idx_grants_resource_type_id_resource_id_v1
    ON v1_grants (resource_type_id, resource_id);
CREATE INDEX idx_grants_principal_id_v1
    ON v1_grants (principal_resource_type_id, principal_resource_id);
CREATE INDEX idx_grants_entitlement_id_principal_id_v1
    ON v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id);
CREATE INDEX idx_grants_entitlement_sync_grant_v1
    ON v1_grants (entitlement_id, sync_id, id);
CREATE INDEX idx_grants_sync_expansion_v1
    ON v1_grants (sync_id) WHERE expansion IS NOT NULL;
CREATE INDEX idx_grants_sync_needs_expansion_v1
    ON v1_grants (sync_id) WHERE needs_expansion = 1;
";

/// The names of the [`DEFERRED_INDEXES`] (a resumed sync drops those a killed finish built).
pub(crate) fn deferred_index_names() -> impl Iterator<Item = &'static str> {
    DEFERRED_INDEXES
        .split("CREATE INDEX ")
        .skip(1)
        .filter_map(|statement| statement.split_whitespace().next())
}

/// The tables a reader needs; the others (assets, connector sessions) are never read here.
pub(crate) const READ_TABLES: [&str; 5] =
    [SYNC_RUNS, RESOURCE_TYPES, RESOURCES, ENTITLEMENTS, GRANTS];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_creates_every_table_and_index_in_a_fresh_database() {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch(DDL).expect("the DDL runs");
        conn.execute_batch(DEFERRED_INDEXES)
            .expect("the deferred indexes build");
        let count: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE 'v1_%' OR name LIKE 'idx_%'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        // 7 tables and 16 indexes.
        assert_eq!(count, 23);
        // Their names are what a resumed sync drops: all of them, and nothing else.
        let drops: String = deferred_index_names()
            .map(|name| format!("DROP INDEX {name};"))
            .collect();
        assert_eq!(deferred_index_names().count(), 6);
        conn.execute_batch(&drops)
            .expect("every deferred index dropped");
        conn.execute_batch(DEFERRED_INDEXES)
            .expect("and built again");
    }
}
