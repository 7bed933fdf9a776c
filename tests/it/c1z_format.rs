//! The `.c1z` v1 file: what the writer produces, byte for byte where Baton cares, read back by
//! our reader, by SQLite and zstd directly, and by Python's `zstandard` and `sqlite3`.

use crate::support::python;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use baton_cognito::c1z::{C1zError, C1zReader, C1zWriter, GrantFilter};
use baton_cognito::pb::pack;
use baton_cognito::pb::v2::{
    Entitlement, Grant, GrantExpandable, GrantImmutable, GroupTrait, Resource, ResourceId,
    ResourceType, UserTrait, entitlement, resource_type,
};
use prost::Message;
use prost_types::{Struct, Value, value::Kind};
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn rid(resource_type: &str, resource: &str) -> ResourceId {
    ResourceId {
        resource_type: resource_type.into(),
        resource: resource.into(),
        ..Default::default()
    }
}

fn profile(pairs: &[(&str, &str)]) -> Struct {
    Struct {
        fields: pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value {
                        kind: Some(Kind::StringValue(v.to_string())),
                    },
                )
            })
            .collect(),
    }
}

fn resource_types() -> Vec<ResourceType> {
    vec![
        ResourceType {
            id: "user".into(),
            display_name: "User".into(),
            traits: vec![resource_type::Trait::User as i32],
            annotations: vec![pack(&GrantImmutable::default())],
            ..Default::default()
        },
        ResourceType {
            id: "group".into(),
            display_name: "Group".into(),
            traits: vec![resource_type::Trait::Group as i32],
            ..Default::default()
        },
        ResourceType {
            id: "role".into(),
            display_name: "Role".into(),
            ..Default::default()
        },
    ]
}

const USERS: [&str; 5] = [
    "alice",
    "bob:smith",
    "carol jones",
    "Ünïcødé-ユーザー",
    "a:b:c d",
];
const GROUPS: [&str; 3] = ["admins", "team: red/blue", "Ωmega"];

fn user(name: &str) -> Resource {
    let trait_ = UserTrait {
        login: name.into(),
        ..Default::default()
    };
    Resource {
        id: Some(rid("user", name)),
        display_name: format!("User {name}"),
        annotations: vec![pack(&trait_)],
        profile: Some(profile(&[
            ("email", &format!("{name}@example.com")),
            ("cognito:username", name),
            ("zz", "last"),
            ("aa", "first"),
        ])),
        ..Default::default()
    }
}

fn group(name: &str) -> Resource {
    Resource {
        id: Some(rid("group", name)),
        display_name: name.into(),
        description: format!("the {name} group"),
        annotations: vec![pack(&GroupTrait::default())],
        ..Default::default()
    }
}

fn resources() -> Vec<Resource> {
    let mut out: Vec<Resource> = USERS.iter().map(|u| user(u)).collect();
    out.extend(GROUPS.iter().map(|g| group(g)));
    // A child resource: a role that belongs to a group.
    out.push(Resource {
        id: Some(rid("role", "reader: all")),
        parent_resource_id: Some(rid("group", "team: red/blue")),
        display_name: "Reader".into(),
        ..Default::default()
    });
    out
}

fn membership(group_name: &str) -> Entitlement {
    Entitlement {
        resource: Some(group(group_name)),
        id: format!("group:{group_name}:member"),
        display_name: format!("{group_name} member"),
        grantable_to: vec![resource_types()[0].clone()],
        purpose: entitlement::PurposeValue::Assignment as i32,
        slug: "member".into(),
        ..Default::default()
    }
}

fn entitlements() -> Vec<Entitlement> {
    GROUPS.iter().map(|g| membership(g)).collect()
}

fn grant(group_name: &str, user_name: &str) -> Grant {
    let entitlement = membership(group_name);
    Grant {
        id: format!("{}:user:{user_name}", entitlement.id),
        entitlement: Some(entitlement),
        principal: Some(user(user_name)),
        ..Default::default()
    }
}

fn expandable() -> GrantExpandable {
    GrantExpandable {
        entitlement_ids: vec!["group:admins:member".into()],
        shallow: true,
        resource_type_ids: vec!["user".into()],
    }
}

fn grants() -> Vec<Grant> {
    let mut out = Vec::new();
    for (i, u) in USERS.iter().enumerate() {
        out.push(grant(GROUPS[i % GROUPS.len()], u));
    }
    out.push(grant("admins", "bob:smith"));
    // Group nesting: members of admins are members of Ωmega. The expansion annotation follows
    // another annotation, as the reader appends it back at the end.
    let mut nested = grant("Ωmega", "admins");
    nested.principal = Some(group("admins"));
    nested.id = "group:Ωmega:member:group:admins".into();
    nested.annotations = vec![pack(&GrantImmutable::default()), pack(&expandable())];
    out.push(nested);
    out
}

/// A finished file with every fixture, in `dir`.
fn write_fixture_file(dir: &Path) -> (PathBuf, String) {
    let dest = dir.join("sync.c1z");
    let mut w = C1zWriter::create(&dest).expect("create");
    w.put_resource_types(&resource_types())
        .expect("resource types");
    w.put_resources(&resources()).expect("resources");
    w.put_entitlements(&entitlements()).expect("entitlements");
    w.put_grants(&grants()).expect("grants");
    let sync_id = w.sync_id().to_string();
    let written = w.finish().expect("finish");
    assert_eq!(written.path, dest);
    assert_eq!(written.sync_id, sync_id);
    (dest, sync_id)
}

// ---------------------------------------------------------------------------------------------
// Helpers that do not use the crate's reader

fn read_envelope(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let bytes = fs::read(path).expect("read file");
    assert_eq!(&bytes[..5], b"C1ZF\0", "magic");
    let db = zstd::stream::decode_all(&bytes[5..]).expect("zstd decodes");
    (bytes, db)
}

/// Decompresses a `.c1z` into `dir/name` with the zstd crate and opens it with rusqlite.
fn open_db(path: &Path, dir: &Path, name: &str) -> (PathBuf, Connection) {
    let (_, db) = read_envelope(path);
    let db_path = dir.join(name);
    fs::write(&db_path, db).expect("write db");
    let conn = Connection::open(&db_path).expect("open db");
    (db_path, conn)
}

/// Writes `db_path` back into a v1 envelope at `out`.
fn envelope(db_path: &Path, out: &Path) {
    let db = fs::read(db_path).expect("read db");
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend(zstd::stream::encode_all(db.as_slice(), 3).expect("compress"));
    fs::write(out, bytes).expect("write c1z");
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every resource a file holds, in storage order.
fn all_resources(reader: &C1zReader) -> Vec<Resource> {
    let mut all = Vec::new();
    reader
        .resources(None, |r| {
            all.push(r);
            Ok(())
        })
        .expect("resources");
    all
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Go's `2006-01-02 15:04:05.999999999` without zone: a fraction only when non-zero, without
/// trailing zeros.
fn assert_go_layout(s: &str) {
    let b = s.as_bytes();
    assert!(s.len() == 19 || (s.len() > 20 && s.len() <= 29), "{s:?}");
    for (i, c) in b.iter().enumerate().take(19) {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{s:?}"),
            10 => assert_eq!(*c, b' ', "{s:?}"),
            13 | 16 => assert_eq!(*c, b':', "{s:?}"),
            _ => assert!(c.is_ascii_digit(), "{s:?}"),
        }
    }
    if s.len() > 19 {
        assert_eq!(b[19], b'.', "{s:?}");
        assert!(b[20..].iter().all(u8::is_ascii_digit), "{s:?}");
        assert_ne!(b[b.len() - 1], b'0', "trailing zero in {s:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Round trip

#[test]
fn everything_written_reads_back_exactly() {
    let dir = tempdir();
    let (path, sync_id) = write_fixture_file(dir.path());
    let reader = C1zReader::open(&path).expect("open");

    let run = reader.sync_run();
    assert_eq!(run.sync_id, sync_id);
    assert_eq!(run.sync_type, "full");
    assert_go_layout(&run.started_at);
    let ended = run.ended_at.as_deref().expect("finished");
    assert_go_layout(ended);
    assert!(ended >= run.started_at.as_str());

    assert_eq!(reader.resource_types().expect("types"), resource_types());

    let all = all_resources(&reader);
    assert_eq!(all, resources());

    let mut users = Vec::new();
    reader
        .resources(Some("user"), |r| {
            users.push(r);
            Ok(())
        })
        .expect("users");
    assert_eq!(users, USERS.iter().map(|u| user(u)).collect::<Vec<_>>());

    for u in USERS {
        assert_eq!(reader.resource("user", u).expect("lookup"), Some(user(u)));
    }
    assert_eq!(reader.resource("user", "nobody").expect("lookup"), None);
    // `<type>:<id>` is not split: "a:b:c d" is a user, not type "a".
    assert_eq!(reader.resource("a", "b:c d").expect("lookup"), None);
    let child = reader
        .resource("role", "reader: all")
        .expect("lookup")
        .expect("the child");
    assert_eq!(
        child.parent_resource_id,
        Some(rid("group", "team: red/blue"))
    );

    let mut ents = Vec::new();
    reader
        .entitlements(None, |e| {
            ents.push(e);
            Ok(())
        })
        .expect("entitlements");
    assert_eq!(ents, entitlements());
    let mut one = Vec::new();
    reader
        .entitlements(Some(("group", "team: red/blue")), |e| {
            one.push(e);
            Ok(())
        })
        .expect("entitlements of one group");
    assert_eq!(one, vec![membership("team: red/blue")]);

    let mut all_grants = Vec::new();
    reader
        .grants(&GrantFilter::default(), |g| {
            all_grants.push(g);
            Ok(())
        })
        .expect("grants");
    assert_eq!(all_grants, grants());

    let mut admins = Vec::new();
    let filter = GrantFilter {
        grant_id: None,
        entitlement_id: Some("group:admins:member".into()),
        principal: None,
    };
    reader
        .grants(&filter, |g| {
            admins.push(g.id);
            Ok(())
        })
        .expect("grants of an entitlement");
    assert_eq!(
        admins,
        [
            "group:admins:member:user:alice",
            "group:admins:member:user:Ünïcødé-ユーザー",
            "group:admins:member:user:bob:smith"
        ]
    );
    let mut bobs = Vec::new();
    let filter = GrantFilter {
        grant_id: None,
        entitlement_id: None,
        principal: Some(("user".into(), "bob:smith".into())),
    };
    reader
        .grants(&filter, |g| {
            bobs.push(g.id);
            Ok(())
        })
        .expect("grants of a principal");
    assert_eq!(
        bobs,
        [
            "group:team: red/blue:member:user:bob:smith",
            "group:admins:member:user:bob:smith"
        ]
    );
    let both = GrantFilter {
        grant_id: None,
        entitlement_id: Some("group:admins:member".into()),
        principal: Some(("user".into(), "bob:smith".into())),
    };
    let mut n = 0;
    reader
        .grants(&both, |_| {
            n += 1;
            Ok(())
        })
        .expect("grants of both");
    assert_eq!(n, 1);

    let stats = reader.stats().expect("stats");
    assert_eq!(stats.resource_types, 3);
    assert_eq!(
        stats.resources_by_type,
        BTreeMap::from([("group".into(), 3), ("role".into(), 1), ("user".into(), 5)])
    );
    assert_eq!(stats.entitlements, 3);
    assert_eq!(stats.grants, 7);
    assert_eq!(stats.sync, *run);
    let json = serde_json::to_value(&stats).expect("serializes");
    assert_eq!(json["resources_by_type"]["user"], 5);

    // A callback error stops the iteration and comes back as it was.
    let mut seen = 0;
    let err = reader
        .resources(None, |_| {
            seen += 1;
            Err(C1zError::Callback("stop here".into()))
        })
        .expect_err("stopped");
    assert_eq!(seen, 1);
    assert_eq!(err.to_string(), "stop here");
}

#[test]
fn a_second_put_of_the_same_id_updates_it() {
    let dir = tempdir();
    let dest = dir.path().join("out.c1z");
    let mut w = C1zWriter::create(&dest).expect("create");
    let mut alice = user("alice");
    w.put_resources(std::slice::from_ref(&alice)).expect("put");
    alice.display_name = "Alice, renamed".into();
    w.put_resources(std::slice::from_ref(&alice))
        .expect("put again");
    let plain = grant("admins", "alice");
    w.put_grants(std::slice::from_ref(&plain)).expect("grant");
    let mut expandable_grant = plain.clone();
    expandable_grant.annotations = vec![pack(&expandable())];
    w.put_grants(std::slice::from_ref(&expandable_grant))
        .expect("grant again");
    w.finish().expect("finish");

    let reader = C1zReader::open(&dest).expect("open");
    let got = all_resources(&reader);
    assert_eq!(got, vec![alice]);
    let mut got = Vec::new();
    reader
        .grants(&GrantFilter::default(), |g| {
            got.push(g);
            Ok(())
        })
        .expect("grants");
    assert_eq!(got, vec![expandable_grant]);

    let (_, conn) = open_db(&dest, dir.path(), "db");
    let (expansion, needs): (Option<Vec<u8>>, i64) = conn
        .query_row(
            "SELECT expansion, needs_expansion FROM v1_grants",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(expansion, Some(expandable().encode_to_vec()));
    assert_eq!(needs, 1);
}

#[test]
fn the_writer_pages_through_what_it_stored() {
    let dir = tempdir();
    let dest = dir.path().join("out.c1z");
    let mut w = C1zWriter::create(&dest).expect("create");
    let users: Vec<Resource> = (0..25).map(|i| user(&format!("u{i:02}"))).collect();
    // Interleave types so the pages must skip rows of other types.
    for chunk in users.chunks(7) {
        w.put_resources(chunk).expect("users");
        w.put_resources(&[group(&format!("g{}", chunk.len()))])
            .expect("group");
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = w.resources_after("user", None, after, 10).expect("page");
        assert!(page.len() <= 10);
        if page.is_empty() {
            break;
        }
        for (rowid, r) in page {
            assert!(rowid > after);
            after = rowid;
            seen.push(r);
        }
    }
    assert_eq!(seen, users);
    // Writes after a read still land.
    w.put_resources(&[user("late")]).expect("late user");
    let last = w.resources_after("user", None, after, 10).expect("page");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].1, user("late"));
    assert_eq!(
        w.resources_after("nothing", None, 0, 10).expect("page"),
        vec![]
    );
    // Resources of a parent (a pool among several) are read back by that parent only.
    let pool = ResourceId {
        resource_type: "user_pool".into(),
        resource: "us-east-1_B".into(),
        ..ResourceId::default()
    };
    let child = Resource {
        parent_resource_id: Some(pool.clone()),
        ..user("us-east-1_B:ann")
    };
    w.put_resources(std::slice::from_ref(&child))
        .expect("child");
    let late_row = last[0].0;
    assert_eq!(
        w.resources_after("user", None, late_row, 10).expect("page"),
        vec![]
    );
    let children = w.resources_after("user", Some(&pool), 0, 10).expect("page");
    assert_eq!(
        children.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        vec![child]
    );
    w.finish().expect("finish");
}

#[test]
fn objects_without_ids_are_refused_without_spoiling_the_sync() {
    let dir = tempdir();
    let dest = dir.path().join("out.c1z");
    let mut w = C1zWriter::create(&dest).expect("create");
    let err = w
        .put_resources(&[user("ok"), Resource::default()])
        .expect_err("no id");
    assert!(matches!(err, C1zError::InvalidObject { .. }), "{err}");
    assert!(err.to_string().contains("id is missing"), "{err}");
    let err = w.put_grants(&[Grant::default()]).expect_err("no id");
    assert!(
        err.to_string().contains(&dest.display().to_string()),
        "{err}"
    );
    // Nothing of the refused call was stored, and the sync goes on.
    w.put_resources(&[user("fine")]).expect("put");
    w.finish().expect("finish");
    let reader = C1zReader::open(&dest).expect("open");
    let mut ids = Vec::new();
    reader
        .resources(None, |r| {
            ids.push(r.id.map(|i| i.resource).unwrap_or_default());
            Ok(())
        })
        .expect("resources");
    assert_eq!(ids, ["fine"]);
}

// ---------------------------------------------------------------------------------------------
// 2. Schema: exactly the SDK's

/// (name, declared type, not null, default)
type Col = (&'static str, &'static str, bool, Option<&'static str>);

/// The SDK's tables in creation order, from the DDL in `pkg/dotc1z/*.go`.
fn upstream_tables() -> Vec<(&'static str, Vec<Col>)> {
    let id: Col = ("id", "integer", false, None);
    let sync_id: Col = ("sync_id", "text", true, None);
    let discovered: Col = ("discovered_at", "datetime", true, None);
    let data: Col = ("data", "blob", true, None);
    vec![
        (
            "v1_resource_types",
            vec![
                id,
                ("external_id", "text", true, None),
                data,
                sync_id,
                discovered,
            ],
        ),
        (
            "v1_resources",
            vec![
                id,
                ("resource_type_id", "text", true, None),
                ("external_id", "text", true, None),
                ("parent_resource_type_id", "text", false, None),
                ("parent_resource_id", "text", false, None),
                data,
                sync_id,
                discovered,
            ],
        ),
        (
            "v1_entitlements",
            vec![
                id,
                ("resource_type_id", "text", true, None),
                ("resource_id", "text", true, None),
                ("external_id", "text", true, None),
                data,
                sync_id,
                discovered,
            ],
        ),
        (
            "v1_sync_runs",
            vec![
                id,
                sync_id,
                ("started_at", "datetime", true, None),
                ("ended_at", "datetime", false, None),
                ("sync_token", "text", true, None),
                ("sync_type", "text", true, Some("'full'")),
                ("parent_sync_id", "text", true, Some("''")),
                ("linked_sync_id", "text", true, Some("''")),
                ("supports_diff", "integer", true, Some("0")),
                ("grants_backfilled", "integer", true, Some("0")),
                ("stats", "text", false, None),
                ("ingest_invariant_generation", "text", true, Some("''")),
                ("ingest_invariant_coverage", "text", true, Some("''")),
                ("ingest_invariant_mode", "text", true, Some("''")),
            ],
        ),
        (
            "v1_grants",
            vec![
                id,
                ("resource_type_id", "text", true, None),
                ("resource_id", "text", true, None),
                ("entitlement_id", "text", true, None),
                ("principal_resource_type_id", "text", true, None),
                ("principal_resource_id", "text", true, None),
                ("external_id", "text", true, None),
                ("expansion", "blob", false, None),
                ("needs_expansion", "integer", true, Some("0")),
                data,
                sync_id,
                discovered,
            ],
        ),
        (
            "v1_assets",
            vec![
                id,
                ("external_id", "text", true, None),
                ("content_type", "text", true, None),
                data,
                sync_id,
                discovered,
            ],
        ),
        (
            "v1_connector_sessions",
            vec![
                id,
                sync_id,
                ("key", "TEXT", true, None),
                ("value", "BLOB", true, None),
            ],
        ),
    ]
}

/// (index, table, columns, unique, partial WHERE clause), in creation order. The resource
/// index names are the SDK's, which do not match their columns.
type Idx = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    Option<&'static str>,
);

#[rustfmt::skip]
fn upstream_indexes() -> Vec<Idx> {
    vec![
        ("idx_resource_types_external_sync_v1", "v1_resource_types", &["external_id", "sync_id"], true, None),
        ("idx_resources_resource_type_id_v1", "v1_resources", &["resource_type_id"], false, None),
        ("idx_resources_external_sync_v1", "v1_resources", &["parent_resource_type_id", "parent_resource_id"], false, None),
        ("idx_resources_parent_resource_id_v1", "v1_resources", &["external_id", "sync_id"], true, None),
        ("idx_entitlements_resource_id_v1", "v1_entitlements", &["resource_type_id", "resource_id"], false, None),
        ("idx_entitlements_external_sync_v1", "v1_entitlements", &["external_id", "sync_id"], true, None),
        ("idx_sync_runs_sync_id_v1", "v1_sync_runs", &["sync_id"], true, None),
        ("idx_grants_resource_type_id_resource_id_v1", "v1_grants", &["resource_type_id", "resource_id"], false, None),
        ("idx_grants_principal_id_v1", "v1_grants", &["principal_resource_type_id", "principal_resource_id"], false, None),
        ("idx_grants_entitlement_id_principal_id_v1", "v1_grants", &["entitlement_id", "principal_resource_type_id", "principal_resource_id"], false, None),
        ("idx_grants_external_sync_v1", "v1_grants", &["external_id", "sync_id"], true, None),
        ("idx_grants_entitlement_sync_grant_v1", "v1_grants", &["entitlement_id", "sync_id", "id"], false, None),
        ("idx_grants_sync_expansion_v1", "v1_grants", &["sync_id"], false, Some("expansion is not null")),
        ("idx_grants_sync_needs_expansion_v1", "v1_grants", &["sync_id"], false, Some("needs_expansion = 1")),
        ("idx_assets_external_sync_v1", "v1_assets", &["external_id", "sync_id"], true, None),
        ("idx_session_store_sync_key_v1", "v1_connector_sessions", &["sync_id", "key"], true, None),
    ]
}

fn normalize_sql(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[test]
fn the_schema_is_the_sdks() {
    let dir = tempdir();
    let (path, _) = write_fixture_file(dir.path());
    let (_, conn) = open_db(&path, dir.path(), "db");

    // Creation order: each table followed by its indexes, tables in the SDK's order, except the
    // grant lookup indexes, which are built last (in the SDK's order among themselves).
    let deferred = [
        "idx_grants_resource_type_id_resource_id_v1",
        "idx_grants_principal_id_v1",
        "idx_grants_entitlement_id_principal_id_v1",
        "idx_grants_entitlement_sync_grant_v1",
        "idx_grants_sync_expansion_v1",
        "idx_grants_sync_needs_expansion_v1",
    ];
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
        .expect("prepare");
    let master: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut expected_order = Vec::new();
    for (table, _) in upstream_tables() {
        expected_order.push(("table".to_string(), table.to_string(), table.to_string()));
        for (name, t, ..) in upstream_indexes() {
            if t == table && !deferred.contains(&name) {
                expected_order.push(("index".to_string(), name.to_string(), t.to_string()));
            }
        }
    }
    for (name, t, ..) in upstream_indexes() {
        if deferred.contains(&name) {
            expected_order.push(("index".to_string(), name.to_string(), t.to_string()));
        }
    }
    let got_order: Vec<(String, String, String)> = master
        .iter()
        .map(|(t, n, tbl, _)| (t.clone(), n.clone(), tbl.clone()))
        .collect();
    assert_eq!(got_order, expected_order);

    for (table, columns) in upstream_tables() {
        let mut stmt = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .expect("table_info");
        let got: Vec<(String, String, bool, Option<String>, i64)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)? != 0,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        // SQLite reports the standard type names in upper case whatever the declaration said;
        // the declarations themselves are checked against the stored CREATE statement below.
        let got: Vec<_> = got
            .into_iter()
            .map(|(n, ty, nn, d, pk)| (n, ty.to_lowercase(), nn, d, pk))
            .collect();
        let expected: Vec<(String, String, bool, Option<String>, i64)> = columns
            .iter()
            .map(|(name, ty, notnull, default)| {
                (
                    name.to_string(),
                    ty.to_lowercase(),
                    *notnull,
                    default.map(str::to_string),
                    i64::from(*name == "id"),
                )
            })
            .collect();
        assert_eq!(got, expected, "columns of {table}");
        let create = master
            .iter()
            .find(|(t, n, ..)| t == "table" && n == table)
            .and_then(|m| m.3.as_deref())
            .map(|sql| sql.split_whitespace().collect::<Vec<_>>().join(" "))
            .expect("create statement");
        for (name, ty, ..) in &columns {
            assert!(
                create.contains(&format!("{name} {ty}")),
                "{table}.{name} is declared {ty}: {create}"
            );
        }
    }

    for (name, table, columns, unique, partial) in upstream_indexes() {
        let mut stmt = conn
            .prepare(&format!("PRAGMA index_list({table})"))
            .expect("index_list");
        let listed: Vec<(String, bool, String, bool)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get(3)?,
                    r.get::<_, i64>(4)? != 0,
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let entry = listed
            .iter()
            .find(|(n, ..)| n == name)
            .unwrap_or_else(|| panic!("index {name} missing on {table}: {listed:?}"));
        assert_eq!(entry.1, unique, "unique of {name}");
        assert_eq!(entry.2, "c", "{name} is a CREATE INDEX, not a constraint");
        assert_eq!(entry.3, partial.is_some(), "partial of {name}");
        let mut stmt = conn
            .prepare(&format!("PRAGMA index_info({name})"))
            .expect("index_info");
        let cols: Vec<String> = stmt
            .query_map([], |r| r.get(2))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(cols, columns, "columns of {name}");
        if let Some(clause) = partial {
            let sql = master
                .iter()
                .find(|(_, n, ..)| n == name)
                .and_then(|m| m.3.clone())
                .expect("index sql");
            assert!(
                normalize_sql(&sql).ends_with(&format!("where {clause}")),
                "{name}: {sql}"
            );
        }
    }
    // Every index of every table is one of the SDK's (no automatic or extra ones).
    let all_indexes: Vec<String> = master
        .iter()
        .filter(|(t, ..)| t == "index")
        .map(|(_, n, ..)| n.clone())
        .collect();
    assert_eq!(all_indexes.len(), upstream_indexes().len());
}

#[test]
fn rows_are_stored_as_the_sdk_stores_them() {
    let dir = tempdir();
    let (path, sync_id) = write_fixture_file(dir.path());
    let (bytes, db) = read_envelope(&path);

    // One zstd frame, covering the rest of the file, that records the database size.
    let frame = &bytes[5..];
    assert_eq!(
        zstd::zstd_safe::find_frame_compressed_size(frame).expect("a frame"),
        frame.len()
    );
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(frame).expect("header"),
        Some(db.len() as u64)
    );
    // A complete database in rollback-journal mode (file format bytes 1/1, not WAL's 2/2).
    assert_eq!(&db[..16], b"SQLite format 3\0");
    assert_eq!((db[18], db[19]), (1, 1));

    let (_, conn) = open_db(&path, dir.path(), "db");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");

    type Run = (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        i64,
        i64,
        Option<String>,
        String,
        String,
        String,
    );
    let run: Run = conn
        .query_row(
            "SELECT sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, \
             linked_sync_id, supports_diff, grants_backfilled, stats, \
             ingest_invariant_generation, ingest_invariant_coverage, ingest_invariant_mode \
             FROM v1_sync_runs",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                    r.get(12)?,
                ))
            },
        )
        .expect("the one sync run");
    assert_eq!(run.0, sync_id);
    assert_eq!(run.0.len(), 27);
    assert!(run.0.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_go_layout(&run.1);
    assert_go_layout(run.2.as_deref().expect("ended"));
    assert_eq!(run.3, r#"{"version":1}"#);
    assert_eq!(run.4, "full");
    assert_eq!((run.5.as_str(), run.6.as_str()), ("", ""));
    assert_eq!((run.7, run.8), (1, 1));
    assert_eq!(run.9, None);
    assert_eq!(
        (run.10.as_str(), run.11.as_str(), run.12.as_str()),
        ("", "", "")
    );
    let runs: i64 = conn
        .query_row("SELECT count(*) FROM v1_sync_runs", [], |r| r.get(0))
        .expect("count");
    assert_eq!(runs, 1);

    // Every row belongs to the sync and carries a timestamp in the layout.
    for table in [
        "v1_resource_types",
        "v1_resources",
        "v1_entitlements",
        "v1_grants",
    ] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT sync_id, discovered_at, typeof(discovered_at) FROM {table}"
            ))
            .expect("prepare");
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(!rows.is_empty(), "{table}");
        for (s, at, ty) in rows {
            assert_eq!(s, sync_id, "{table}");
            assert_eq!(ty, "text", "{table}");
            assert_go_layout(&at);
        }
    }
    for table in ["v1_assets", "v1_connector_sessions"] {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{table}");
    }

    let mut stmt = conn
        .prepare("SELECT external_id, data FROM v1_resource_types ORDER BY id")
        .expect("prepare");
    let rows: Vec<(String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<(String, Vec<u8>)> = resource_types()
        .iter()
        .map(|rt| (rt.id.clone(), rt.encode_to_vec()))
        .collect();
    assert_eq!(rows, expected);

    let mut stmt = conn
        .prepare(
            "SELECT resource_type_id, external_id, parent_resource_type_id, parent_resource_id, \
             data FROM v1_resources ORDER BY id",
        )
        .expect("prepare");
    type ResRow = (String, String, Option<String>, Option<String>, Vec<u8>);
    let rows: Vec<ResRow> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<ResRow> = resources()
        .iter()
        .map(|r| {
            let id = r.id.clone().expect("id");
            (
                id.resource_type.clone(),
                format!("{}:{}", id.resource_type, id.resource),
                r.parent_resource_id
                    .as_ref()
                    .map(|p| p.resource_type.clone()),
                r.parent_resource_id.as_ref().map(|p| p.resource.clone()),
                r.encode_to_vec(),
            )
        })
        .collect();
    assert_eq!(rows, expected);
    assert!(rows.iter().any(|r| r.1 == "user:a:b:c d"));
    assert!(rows.iter().any(|r| r.2.as_deref() == Some("group")));

    let mut stmt = conn
        .prepare("SELECT resource_type_id, resource_id, external_id, data FROM v1_entitlements ORDER BY id")
        .expect("prepare");
    let rows: Vec<(String, String, String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<(String, String, String, Vec<u8>)> = entitlements()
        .iter()
        .map(|e| {
            (
                "group".into(),
                e.resource
                    .as_ref()
                    .and_then(|r| r.id.clone())
                    .expect("id")
                    .resource,
                e.id.clone(),
                e.encode_to_vec(),
            )
        })
        .collect();
    assert_eq!(rows, expected);

    let mut stmt = conn
        .prepare(
            "SELECT resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
             principal_resource_id, external_id, expansion, needs_expansion, data \
             FROM v1_grants ORDER BY id",
        )
        .expect("prepare");
    type GrantRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<Vec<u8>>,
        i64,
        Vec<u8>,
    );
    let rows: Vec<GrantRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected: Vec<GrantRow> = grants()
        .into_iter()
        .map(|mut g| {
            let ent = g.entitlement.clone().expect("entitlement");
            let res = ent.resource.and_then(|r| r.id).expect("resource");
            let principal = g.principal.clone().and_then(|p| p.id).expect("principal");
            let had_expansion = g.annotations.len() == 2;
            // The SDK keeps GrantExpandable out of the stored grant.
            g.annotations
                .retain(|a| !a.type_url.ends_with("GrantExpandable"));
            (
                res.resource_type,
                res.resource,
                ent.id,
                principal.resource_type,
                principal.resource,
                g.id.clone(),
                had_expansion.then(|| expandable().encode_to_vec()),
                i64::from(had_expansion),
                g.encode_to_vec(),
            )
        })
        .collect();
    assert_eq!(rows, expected);
    assert_eq!(rows.iter().filter(|r| r.6.is_some()).count(), 1);
}

// ---------------------------------------------------------------------------------------------
// 3. Tools outside this project decode it

const PY_DECODE: &str = r#"
import io, json, os, sqlite3, sys, tempfile
import zstandard

data = open(sys.argv[1], "rb").read()
magic = data[:5]
params = zstandard.get_frame_parameters(data[5:])
# The SDK's reader caps the window at 128 MiB.
dctx = zstandard.ZstdDecompressor(max_window_size=128 * 1024 * 1024)
with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "db")
    with open(db, "wb") as out:
        dctx.copy_stream(io.BytesIO(data[5:]), out)
    size = os.path.getsize(db)
    conn = sqlite3.connect(db)
    tables = sorted(r[0] for r in conn.execute("select name from sqlite_master where type = 'table'"))
    counts = {t: conn.execute("select count(*) from " + t).fetchone()[0] for t in tables}
    runs = [list(r) for r in conn.execute(
        "select sync_id, sync_type, started_at, ended_at, sync_token, supports_diff, grants_backfilled "
        "from v1_sync_runs")]
    finished_full = conn.execute(
        "select sync_id from v1_sync_runs where sync_type = 'full' and ended_at is not null "
        "order by ended_at desc, sync_id desc limit 1").fetchone()
    foreign = conn.execute(
        "select count(*) from v1_resources where sync_id != ?", (finished_full[0],)).fetchone()[0]
    integrity = conn.execute("pragma integrity_check").fetchone()[0]
    journal = conn.execute("pragma journal_mode").fetchone()[0]
    conn.close()
print(json.dumps({
    "magic": magic.hex(),
    "content_size": params.content_size,
    "has_checksum": params.has_checksum,
    "db_size": size,
    "tables": tables,
    "counts": counts,
    "runs": runs,
    "finished_full": finished_full[0],
    "foreign_rows": foreign,
    "integrity": integrity,
    "journal": journal,
}))
"#;

#[test]
fn python_zstandard_and_sqlite3_decode_the_file() {
    let dir = tempdir();
    let (path, sync_id) = write_fixture_file(dir.path());
    let out = Command::new(python())
        .arg("-c")
        .arg(PY_DECODE)
        .arg(&path)
        .stderr(Stdio::inherit())
        .output()
        .expect("run python");
    assert!(out.status.success(), "python failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json from python");
    assert_eq!(v["magic"], hex::encode(b"C1ZF\0"));
    assert_eq!(v["content_size"], v["db_size"]);
    assert_eq!(v["has_checksum"], true);
    assert_eq!(
        v["tables"],
        serde_json::json!([
            "v1_assets",
            "v1_connector_sessions",
            "v1_entitlements",
            "v1_grants",
            "v1_resource_types",
            "v1_resources",
            "v1_sync_runs"
        ])
    );
    assert_eq!(
        v["counts"],
        serde_json::json!({
            "v1_assets": 0, "v1_connector_sessions": 0, "v1_entitlements": 3, "v1_grants": 7,
            "v1_resource_types": 3, "v1_resources": 9, "v1_sync_runs": 1
        })
    );
    let run = &v["runs"][0];
    assert_eq!(run[0], sync_id.as_str());
    assert_eq!(run[1], "full");
    assert!(run[3].is_string(), "ended_at is set: {run}");
    assert_eq!(run[4], r#"{"version":1}"#);
    assert_eq!((run[5].as_i64(), run[6].as_i64()), (Some(1), Some(1)));
    assert_eq!(v["finished_full"], sync_id.as_str());
    assert_eq!(v["foreign_rows"], 0);
    assert_eq!(v["integrity"], "ok");
    assert_ne!(v["journal"], "wal");
}

// ---------------------------------------------------------------------------------------------
// 4. Atomicity

#[test]
fn a_dropped_writer_leaves_the_destination_and_no_files() {
    let dir = tempdir();
    let (dest, _) = write_fixture_file(dir.path());
    let before = fs::read(&dest).expect("read");
    {
        let mut w = C1zWriter::create(&dest).expect("create");
        w.put_resources(&resources()).expect("resources");
        w.put_grants(&grants()).expect("grants");
        // A scratch database and its write-ahead log exist while the writer lives, next to
        // the destination.
        let names = entries(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names.iter().any(|n| n.ends_with(".db.tmp-wal")),
            "{names:?}"
        );
    }
    assert_eq!(fs::read(&dest).expect("read"), before);
    assert_eq!(entries(dir.path()), ["sync.c1z"]);

    // The same with no destination: nothing appears.
    let absent = dir.path().join("new.c1z");
    drop(C1zWriter::create(&absent).expect("create"));
    assert_eq!(entries(dir.path()), ["sync.c1z"]);
}

#[test]
fn finishing_replaces_an_existing_c1z_and_leaves_nothing_else() {
    let dir = tempdir();
    let (dest, first) = write_fixture_file(dir.path());
    let (_, second) = write_fixture_file(dir.path());
    assert_ne!(first, second);
    assert_eq!(entries(dir.path()), ["sync.c1z"]);
    let reader = C1zReader::open(&dest).expect("open");
    assert_eq!(reader.sync_run().sync_id, second);
    // An empty file may be replaced too (the SDK treats it as a new file).
    let empty = dir.path().join("empty.c1z");
    fs::write(&empty, b"").expect("touch");
    C1zWriter::create(&empty)
        .expect("create")
        .finish()
        .expect("finish");
    assert!(C1zReader::open(&empty).is_ok());
}

#[test]
fn a_failed_finish_leaves_the_destination_and_no_files() {
    let dir = tempdir();
    let (dest, _) = write_fixture_file(dir.path());

    // Somebody puts their own file at the destination while the sync runs.
    let mut w = C1zWriter::create(&dest).expect("create");
    w.put_resources(&resources()).expect("resources");
    let precious = b"somebody else's data, not a c1z".to_vec();
    fs::write(&dest, &precious).expect("overwrite");
    let err = w.finish().expect_err("refuses to clobber");
    assert!(matches!(err, C1zError::WouldClobber { .. }), "{err}");
    assert!(
        err.to_string().contains(&dest.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read(&dest).expect("read"), precious);
    assert_eq!(entries(dir.path()), ["sync.c1z"]);

    // A directory appears at the destination: the final rename would fail.
    fs::remove_file(&dest).expect("rm");
    let w = C1zWriter::create(&dest).expect("create");
    fs::create_dir(&dest).expect("mkdir");
    fs::write(dest.join("keep"), b"kept").expect("write");
    let err = w.finish().expect_err("a directory");
    assert!(matches!(err, C1zError::IsDirectory { .. }), "{err}");
    assert_eq!(fs::read(dest.join("keep")).expect("kept"), b"kept");
    assert_eq!(entries(dir.path()), ["sync.c1z"]);
    assert_eq!(entries(&dest), ["keep"]);
}

#[test]
fn bad_destinations_fail_at_create() {
    let dir = tempdir();
    let missing_dir = dir.path().join("no/such/dir/out.c1z");
    let err = C1zWriter::create(&missing_dir).err().expect("no directory");
    assert!(matches!(err, C1zError::NoDirectory { .. }), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(
        err.to_string().contains(&missing_dir.display().to_string()),
        "{err}"
    );

    let err = C1zWriter::create(dir.path()).err().expect("a directory");
    assert!(matches!(err, C1zError::IsDirectory { .. }), "{err}");

    let not_c1z = dir.path().join("notes.txt");
    fs::write(&not_c1z, b"my notes").expect("write");
    let err = C1zWriter::create(&not_c1z).err().expect("not a c1z");
    assert!(matches!(err, C1zError::WouldClobber { .. }), "{err}");
    assert_eq!(fs::read(&not_c1z).expect("read"), b"my notes");
    assert_eq!(entries(dir.path()), ["notes.txt"]);

    // A directory without write permission (meaningless for root, who may write anyway).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("ro");
        fs::create_dir(&ro).expect("mkdir");
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).expect("chmod");
        let probe_allowed = fs::File::create(ro.join("probe")).is_ok();
        if !probe_allowed {
            let err = C1zWriter::create(&ro.join("out.c1z"))
                .err()
                .expect("read-only");
            assert!(matches!(err, C1zError::Io { .. }), "{err}");
            assert!(err.to_string().contains("temporary file"), "{err}");
        }
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Bad files

fn open_err(path: &Path) -> C1zError {
    match C1zReader::open(path) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => {
            assert!(
                e.to_string().contains(&path.display().to_string()),
                "the message names the file: {e}"
            );
            e
        }
    }
}

#[test]
fn bad_files_get_clear_errors() {
    let dir = tempdir();
    let d = dir.path();

    let err = open_err(&d.join("missing.c1z"));
    assert!(matches!(err, C1zError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("no such file"), "{err}");

    let empty = d.join("empty.c1z");
    fs::write(&empty, b"").expect("write");
    let err = open_err(&empty);
    assert!(matches!(err, C1zError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");

    for (name, content) in [
        ("zip.c1z", &b"PK\x03\x04 a zip file, not a c1z"[..]),
        ("short.c1z", b"C1"),
        ("json.c1z", b"{\"resources\": []}"),
    ] {
        let p = d.join(name);
        fs::write(&p, content).expect("write");
        let err = open_err(&p);
        assert!(matches!(err, C1zError::NotC1z { .. }), "{name}: {err}");
        assert!(err.to_string().contains("not a .c1z file"), "{err}");
    }

    let v3 = d.join("v3.c1z");
    let mut v3_bytes = b"C1Z3\0".to_vec();
    v3_bytes.extend_from_slice(&[0, 0, 0, 2, 8, 1]);
    fs::write(&v3, v3_bytes).expect("write");
    let err = open_err(&v3);
    assert!(matches!(err, C1zError::V3Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("v3 (Pebble)"), "{err}");
    assert!(err.to_string().contains("--storage-engine sqlite"), "{err}");

    let (good, _) = write_fixture_file(d);
    let bytes = fs::read(&good).expect("read");
    let truncated = d.join("truncated.c1z");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = open_err(&truncated);
    assert!(matches!(err, C1zError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");

    let header_only = d.join("header-only.c1z");
    fs::write(&header_only, b"C1ZF\0").expect("write");
    assert!(matches!(open_err(&header_only), C1zError::Corrupt { .. }));

    let garbage = d.join("garbage.c1z");
    let mut g = b"C1ZF\0".to_vec();
    g.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    fs::write(&garbage, g).expect("write");
    assert!(matches!(open_err(&garbage), C1zError::Corrupt { .. }));

    let flipped = d.join("flipped.c1z");
    let mut f = bytes.clone();
    let mid = f.len() / 2;
    f[mid] ^= 0xFF;
    fs::write(&flipped, f).expect("write");
    // Either zstd notices (checksum) or SQLite does; either way a clear error, no panic.
    let err = open_err(&flipped);
    assert!(
        matches!(
            err,
            C1zError::Corrupt { .. } | C1zError::NotSqlite { .. } | C1zError::Sqlite { .. }
        ),
        "{err}"
    );

    let text = d.join("text.c1z");
    let mut t = b"C1ZF\0".to_vec();
    t.extend(
        zstd::stream::encode_all(&b"hello, not a database\n".repeat(500)[..], 3).expect("zstd"),
    );
    fs::write(&text, t).expect("write");
    let err = open_err(&text);
    assert!(matches!(err, C1zError::NotSqlite { .. }), "{err}");
    assert!(err.to_string().contains("not a SQLite database"), "{err}");

    let other_db = d.join("other.db");
    {
        let conn = Connection::open(&other_db).expect("db");
        conn.execute_batch("CREATE TABLE foo (x); INSERT INTO foo VALUES (1);")
            .expect("ddl");
    }
    let other = d.join("other.c1z");
    envelope(&other_db, &other);
    let err = open_err(&other);
    assert!(matches!(err, C1zError::MissingTables { .. }), "{err}");
    assert!(err.to_string().contains("v1_sync_runs"), "{err}");

    let (db_path, conn) = open_db(&good, d, "unfinished.db");
    conn.execute("UPDATE v1_sync_runs SET ended_at = NULL", [])
        .expect("update");
    drop(conn);
    let unfinished = d.join("unfinished.c1z");
    envelope(&db_path, &unfinished);
    let err = open_err(&unfinished);
    assert!(matches!(err, C1zError::NoFinishedSync { .. }), "{err}");
    assert!(err.to_string().contains("no finished sync"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 6. Choosing among several syncs

#[test]
fn the_reader_picks_the_latest_finished_full_sync() {
    let dir = tempdir();
    let d = dir.path();
    let (good, current) = write_fixture_file(d);
    let (db_path, conn) = open_db(&good, d, "multi.db");
    let add_sync = |id: &str, ty: &str, started: &str, ended: Option<&str>, user_name: &str| {
        conn.execute(
            "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, \
             grants_backfilled) VALUES (?1, ?2, ?3, '', ?4, 1)",
            rusqlite::params![id, started, ended, ty],
        )
        .expect("sync run");
        conn.execute(
            "INSERT INTO v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) \
             VALUES ('user', ?1, ?2, ?3, ?4)",
            rusqlite::params![format!("user:{user_name}"), user(user_name).encode_to_vec(), id, started],
        )
        .expect("resource");
    };
    // An older finished full sync, a newer unfinished one, a newer finished partial one.
    add_sync(
        "0000000000000000000000000A1",
        "full",
        "2001-01-01 00:00:00",
        Some("2001-01-01 00:10:00.5"),
        "old",
    );
    add_sync(
        "zzzzzzzzzzzzzzzzzzzzzzzzzz1",
        "full",
        "2999-01-01 00:00:00",
        None,
        "running",
    );
    add_sync(
        "zzzzzzzzzzzzzzzzzzzzzzzzzz2",
        "partial",
        "2998-01-01 00:00:00",
        Some("2998-01-01 00:00:01"),
        "partial",
    );
    let current_ended: String = conn
        .query_row(
            "SELECT ended_at FROM v1_sync_runs WHERE sync_id = ?1",
            [&current],
            |r| r.get(0),
        )
        .expect("ended");

    let reopen = || {
        let out = d.join("multi.c1z");
        envelope(&db_path, &out);
        C1zReader::open(&out).expect("open")
    };
    let ids_of = |reader: &C1zReader| {
        let mut ids = Vec::new();
        reader
            .resources(Some("user"), |r| {
                ids.push(r.id.map(|i| i.resource).unwrap_or_default());
                Ok(())
            })
            .expect("resources");
        ids
    };

    let reader = reopen();
    assert_eq!(reader.sync_run().sync_id, current);
    assert_eq!(ids_of(&reader), USERS);
    assert_eq!(reader.stats().expect("stats").resources_by_type["user"], 5);
    assert_eq!(reader.resource("user", "running").expect("lookup"), None);

    // Same end time: the greater sync id wins, as text.
    conn.execute(
        "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type) \
         VALUES ('zzzzzzzzzzzzzzzzzzzzzzzzzz0', '2001-01-01 00:00:00', ?1, '', 'full')",
        [&current_ended],
    )
    .expect("tie");
    assert_eq!(reopen().sync_run().sync_id, "zzzzzzzzzzzzzzzzzzzzzzzzzz0");
    conn.execute(
        "DELETE FROM v1_sync_runs WHERE sync_id = 'zzzzzzzzzzzzzzzzzzzzzzzzzz0'",
        [],
    )
    .expect("delete");

    // Without the current sync the older full one is next, never the unfinished one.
    conn.execute("DELETE FROM v1_sync_runs WHERE sync_id = ?1", [&current])
        .expect("delete");
    let reader = reopen();
    assert_eq!(reader.sync_run().sync_id, "0000000000000000000000000A1");
    assert_eq!(
        reader.sync_run().ended_at.as_deref(),
        Some("2001-01-01 00:10:00.5")
    );
    assert_eq!(ids_of(&reader), ["old"]);

    // With no finished full sync, the latest finished sync of any type.
    conn.execute(
        "DELETE FROM v1_sync_runs WHERE sync_id = '0000000000000000000000000A1'",
        [],
    )
    .expect("delete");
    let reader = reopen();
    assert_eq!(reader.sync_run().sync_type, "partial");
    assert_eq!(ids_of(&reader), ["partial"]);
}

/// A sync interrupted while its file is written (the last step, compressing the finished
/// database) is kept, with what resuming it needs beside it, and the next writer of the same
/// sync picks it up with every listing's progress as it was: finishing it again writes the
/// whole file. Another sync of the same file does not take it, and sweeps it.
#[test]
fn a_sync_stopped_while_its_file_is_written_is_picked_up_whole() {
    use baton_cognito::c1z::ProgressRow;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use tokio_util::sync::CancellationToken;

    let dir = tempdir();
    let dest = dir.path().join("out.c1z");
    let progress = vec![
        ProgressRow {
            listing: "resources p user ".into(),
            cursor: None,
            done: true,
            items: 2,
            calls: 1,
        },
        ProgressRow {
            listing: "grants p group admins".into(),
            cursor: None,
            done: true,
            items: 1,
            calls: 1,
        },
    ];
    let start = |key: &[u8]| {
        let (mut w, found) = C1zWriter::create_or_resume(&dest, key, false).expect("create");
        w.keep_unfinished_when(Arc::new(AtomicBool::new(true)));
        (w, found)
    };
    let (mut w, found) = start(b"sync A");
    assert!(found.is_none());
    let users = [user("alice"), user("bob")];
    w.put_resources(&users).expect("users");
    w.put_grants(&[grant("admins", "alice")]).expect("grant");
    for row in &progress {
        w.put_progress(row).expect("progress");
    }
    let stopped = CancellationToken::new();
    stopped.cancel();
    assert!(matches!(
        w.finish_unless(&stopped),
        Err(C1zError::Cancelled { .. })
    ));
    assert!(!dest.exists(), "no file written");
    let left = entries(dir.path());
    assert!(
        left.iter().any(|n| n.ends_with(".db.tmp"))
            && left.iter().any(|n| n.ends_with(".db.tmp-finishing")),
        "the finished database and its resume record are kept: {left:?}"
    );

    // The same sync again: every listing's progress back, the rows still there; what else the
    // stopped run left (the file it was compressing) is swept.
    let stray = dir.path().join(".out.c1z.compressing.tmp");
    fs::write(&stray, b"half a file").unwrap();
    let (w, found) = start(b"sync A");
    assert!(!stray.exists(), "swept on resuming");
    let mut found = found.expect("resumed");
    found.sort_by(|a, b| a.listing.cmp(&b.listing));
    let mut want = progress.clone();
    want.sort_by(|a, b| a.listing.cmp(&b.listing));
    assert_eq!(found, want);
    drop(w);
    let (w, found) = start(b"sync A");
    assert!(found.is_some(), "still resumable after being picked up");
    let written = w.finish().expect("finish");
    let reader = C1zReader::open(&written.path).expect("open");
    let got = all_resources(&reader);
    assert_eq!(got, users.to_vec());
    let conn = open_db(&dest, dir.path(), "db").1;
    let extra: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'baton_cognito_progress') \
             + (SELECT count(*) FROM v1_connector_sessions) \
             + (SELECT count(*) FROM v1_sync_runs WHERE ended_at IS NULL)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        extra, 0,
        "the file holds no resume bookkeeping and is ended"
    );
    assert_eq!(entries(dir.path()), vec!["db", "out.c1z"]);

    // Stopped while finishing again, then another sync of the file: not taken, swept.
    let (mut w, _) = start(b"sync A");
    w.put_progress(&progress[0]).expect("progress");
    assert!(w.finish_unless(&stopped).is_err());
    let (w, found) = start(b"sync B");
    assert!(found.is_none(), "another sync's database is not taken");
    drop(w);
    let left = entries(dir.path());
    assert!(
        !left.iter().any(|n| n.contains("finishing")),
        "swept with its database: {left:?}"
    );
}

/// What a listing that started over removes: the resources it claims and did not find again,
/// with their entitlements and every grant on or of them; and a grants listing's own grants.
/// Nothing else.
#[test]
fn a_restarted_listing_removes_exactly_what_it_did_not_find_again() {
    use std::collections::{BTreeSet, HashSet};

    let dir = tempdir();
    let dest = dir.path().join("out.c1z");
    let mut w = C1zWriter::create(&dest).expect("create");
    w.put_resources(&["ann", "bob", "cy", "dee"].map(user))
        .expect("users");
    w.put_resources(&["admins", "ops", "dev"].map(group))
        .expect("groups");
    w.put_entitlements(&["admins", "ops", "dev"].map(membership))
        .expect("entitlements");
    let memberships = [
        ("admins", "ann"),
        ("admins", "bob"),
        ("ops", "bob"),
        ("ops", "cy"),
        ("dev", "dee"),
        ("dev", "ann"),
    ];
    w.put_grants(&memberships.map(|(g, u)| grant(g, u)))
        .expect("grants");

    // The user listing of users whose name starts with a or b found ann again, not bob.
    let found = HashSet::from(["ann".to_string()]);
    let listed = |r: &Resource| r.id.as_ref().unwrap().resource.starts_with(['a', 'b']);
    assert_eq!(w.remove_unfound("user", None, &listed, &found).unwrap(), 1);
    // The group listing found admins and dev again, not ops.
    let found = HashSet::from(["admins".to_string(), "dev".to_string()]);
    assert_eq!(
        w.remove_unfound("group", None, &|_| true, &found).unwrap(),
        1
    );
    // dev's members were listed again from the start.
    w.remove_grants_of(&rid("group", "dev"))
        .expect("dev's grants");
    w.put_grants(&[grant("dev", "dee")]).expect("dev again");
    w.finish().expect("finish");

    let reader = C1zReader::open(&dest).expect("open");
    let mut resources = BTreeSet::new();
    reader
        .resources(None, |r| {
            resources.insert(r.id.unwrap().resource);
            Ok(())
        })
        .expect("resources");
    let want: BTreeSet<String> = ["ann", "cy", "dee", "admins", "dev"]
        .map(String::from)
        .into();
    assert_eq!(resources, want);
    let mut grants = BTreeSet::new();
    reader
        .grants(&GrantFilter::default(), |g| {
            grants.insert(g.id);
            Ok(())
        })
        .expect("grants");
    let want: BTreeSet<String> = [grant("admins", "ann").id, grant("dev", "dee").id].into();
    assert_eq!(
        grants, want,
        "bob's and ops's grants gone, dev's as listed again"
    );
    let mut entitlements = BTreeSet::new();
    reader
        .entitlements(None, |e| {
            entitlements.insert(e.id);
            Ok(())
        })
        .expect("entitlements");
    let want: BTreeSet<String> = [membership("admins").id, membership("dev").id].into();
    assert_eq!(entitlements, want);
}
