//! The sync's progress, kept in the working database beside the rows it describes, so that a
//! run killed midway can be resumed from it; never part of a finished file.

use rusqlite::Connection;

/// The sync's progress, kept in the working database beside the rows it describes (and written
/// in the same transactions, so a committed checkpoint never points past committed rows): per
/// listing, where it resumes (`cursor`, none once `done`) and how many items it stored.
/// Dropped at `finish`: Baton files do not carry it.
pub(super) const PROGRESS_DDL: &str = "CREATE TABLE IF NOT EXISTS baton_cognito_progress (
    listing TEXT PRIMARY KEY NOT NULL,
    cursor TEXT,
    done INTEGER NOT NULL,
    items INTEGER NOT NULL,
    calls INTEGER NOT NULL
);";

/// One listing's progress as a killed sync recorded it (see `C1zWriter::put_progress`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgressRow {
    pub listing: String,
    /// Where the listing resumes; none once it is done.
    pub cursor: Option<String>,
    pub done: bool,
    pub items: u64,
    /// The calls that stored them.
    pub calls: u64,
}

/// Every listing's progress as the working database records it.
pub(super) fn read_progress(conn: &Connection) -> rusqlite::Result<Vec<ProgressRow>> {
    let mut stmt =
        conn.prepare("SELECT listing, cursor, done, items, calls FROM baton_cognito_progress")?;
    let rows = stmt.query_map([], |row| {
        Ok(ProgressRow {
            listing: row.get(0)?,
            cursor: row.get(1)?,
            done: row.get::<_, i64>(2)? != 0,
            items: u64::try_from(row.get::<_, i64>(3)?).unwrap_or_default(),
            calls: u64::try_from(row.get::<_, i64>(4)?).unwrap_or_default(),
        })
    })?;
    rows.collect()
}
