//! Reading a `.c1z` back, in the spirit of the `baton` CLI: tables for people, `-o json` for
//! machines (protojson, as Baton tools print). Works on any v1 file, also one written by
//! another Baton connector.

use std::io::{BufWriter, Write};
use std::path::Path;

use clap::ValueEnum;
use serde_json::json;

use super::RunError;
use super::table::Table;
use crate::c1z::{C1zError, C1zReader, GrantFilter};
use crate::pb::v2::resource_type::Trait;
use crate::pb::v2::status::ResourceStatus;
use crate::pb::v2::{Entitlement, Grant, Resource, ResourceId};
use crate::pb::{UnprintableRecord, to_protojson};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Console,
    /// One JSON document; records in protojson.
    Json,
}

/// `TYPE:ID` as the `.c1z` keys resources (`user:ann`, `group:team:red`): the type never holds
/// a colon, so the first one separates them.
pub fn parse_resource_ref(flag: &str, value: &str) -> Result<(String, String), RunError> {
    match value.split_once(':') {
        Some((type_id, id)) if !type_id.is_empty() && !id.is_empty() => {
            Ok((type_id.to_string(), id.to_string()))
        }
        _ => Err(RunError::Usage(format!(
            "--{flag}: {value:?} is not TYPE:ID, e.g. user:ann or group:admins"
        ))),
    }
}

/// Writes a JSON document `{"<key>": [items...]}` one item at a time.
struct JsonList<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonList<W> {
    fn start(mut out: W, key: &str) -> std::io::Result<Self> {
        write!(out, "{{{}:[", json!(key))?;
        Ok(Self { out, first: true })
    }

    fn item(&mut self, value: &serde_json::Value) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        writeln!(self.out)?;
        serde_json::to_writer(&mut self.out, value)?;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        writeln!(self.out, "\n]}}")?;
        self.out.flush()
    }
}

fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::new(std::io::stdout().lock())
}

fn id_text(id: Option<&ResourceId>) -> String {
    id.map(|id| format!("{}:{}", id.resource_type, id.resource))
        .unwrap_or_default()
}

/// Runs one listing over the reader, printing each record as a table row or a JSON item.
fn list<T, const N: usize>(
    format: OutputFormat,
    key: &str,
    header: [&str; N],
    each: impl FnOnce(&mut dyn FnMut(T) -> Result<(), C1zError>) -> Result<(), C1zError>,
    json: impl Fn(&T) -> Result<serde_json::Value, UnprintableRecord>,
    row: impl Fn(&T) -> [String; N],
) -> Result<(), RunError> {
    match format {
        OutputFormat::Json => {
            let mut out = JsonList::start(stdout(), key)?;
            each(&mut |item| {
                let value = json(&item).map_err(|err| {
                    C1zError::Callback(format!("{key}: {}: {err}", row(&item)[0]))
                })?;
                out.item(&value).map_err(C1zError::Output)
            })?;
            out.finish()?;
        }
        OutputFormat::Console => {
            let mut out = stdout();
            let mut table = Table::new(header);
            each(&mut |item| table.stream(&mut out, row(&item)).map_err(C1zError::Output))?;
            table.print(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

pub fn resource_types(file: &Path, format: OutputFormat) -> Result<(), RunError> {
    let reader = C1zReader::open(file)?;
    list(
        format,
        "resource_types",
        ["id", "display name", "traits"],
        |each| reader.resource_types()?.into_iter().try_for_each(each),
        to_protojson,
        |t| {
            let traits = t
                .traits
                .iter()
                .map(|n| {
                    Trait::try_from(*n)
                        .map(|t| t.as_str_name().trim_start_matches("TRAIT_").to_lowercase())
                        .unwrap_or_else(|_| n.to_string())
                })
                .collect::<Vec<_>>()
                .join(",");
            [t.id.clone(), t.display_name.clone(), traits]
        },
    )
}

fn status_text(resource: &Resource) -> String {
    match &resource.status {
        Some(status) => {
            let state = ResourceStatus::try_from(status.status)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("RESOURCE_STATUS_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            if status.details.is_empty() {
                state
            } else {
                format!("{state} ({})", status.details)
            }
        }
        None => String::new(),
    }
}

pub fn resources(
    file: &Path,
    resource_type: Option<&str>,
    format: OutputFormat,
) -> Result<(), RunError> {
    let reader = C1zReader::open(file)?;
    list(
        format,
        "resources",
        ["resource", "display name", "status"],
        |each| reader.resources(resource_type, each),
        to_protojson,
        |r: &Resource| {
            [
                id_text(r.id.as_ref()),
                r.display_name.clone(),
                status_text(r),
            ]
        },
    )
}

pub fn entitlements(
    file: &Path,
    resource: Option<&str>,
    format: OutputFormat,
) -> Result<(), RunError> {
    let resource = resource
        .map(|r| parse_resource_ref("resource", r))
        .transpose()?;
    let reader = C1zReader::open(file)?;
    list(
        format,
        "entitlements",
        ["entitlement", "display name", "resource", "grantable to"],
        |each| {
            reader.entitlements(
                resource.as_ref().map(|(t, i)| (t.as_str(), i.as_str())),
                each,
            )
        },
        to_protojson,
        |e: &Entitlement| {
            let grantable = e
                .grantable_to
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>()
                .join(",");
            [
                e.id.clone(),
                e.display_name.clone(),
                id_text(e.resource.as_ref().and_then(|r| r.id.as_ref())),
                grantable,
            ]
        },
    )
}

pub fn grants(
    file: &Path,
    entitlement: Option<&str>,
    principal: Option<&str>,
    format: OutputFormat,
) -> Result<(), RunError> {
    let filter = GrantFilter {
        grant_id: None,
        entitlement_id: entitlement.map(str::to_string),
        principal: principal
            .map(|p| parse_resource_ref("principal", p))
            .transpose()?,
    };
    let reader = C1zReader::open(file)?;
    // The principal's display name, as the baton CLI shows it; `MISSING` when the file lacks it.
    let principal_name = |g: &Grant| -> String {
        let Some(id) = g.principal.as_ref().and_then(|p| p.id.as_ref()) else {
            return String::new();
        };
        match reader.resource(&id.resource_type, &id.resource) {
            Ok(Some(resource)) => resource.display_name,
            _ => "MISSING".to_string(),
        }
    };
    list(
        format,
        "grants",
        ["entitlement", "principal", "principal name"],
        |each| reader.grants(&filter, each),
        to_protojson,
        |g: &Grant| {
            [
                g.entitlement
                    .as_ref()
                    .map(|e| e.id.clone())
                    .unwrap_or_default(),
                id_text(g.principal.as_ref().and_then(|p| p.id.as_ref())),
                principal_name(g),
            ]
        },
    )
}

pub fn stats(file: &Path, format: OutputFormat) -> Result<(), RunError> {
    let reader = C1zReader::open(file)?;
    let stats = reader.stats()?;
    let mut out = stdout();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &stats).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        OutputFormat::Console => {
            let run = reader.sync_run();
            writeln!(out, "File      {}", file.display())?;
            writeln!(
                out,
                "Sync      {} ({}), started {}, ended {}",
                run.sync_id,
                run.sync_type,
                run.started_at,
                run.ended_at.as_deref().unwrap_or("-")
            )?;
            Table::counts(
                stats.resource_types,
                &stats.resources_by_type,
                stats.entitlements,
                stats.grants,
            )
            .print(&mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_refs_split_at_the_first_colon() {
        assert_eq!(
            parse_resource_ref("resource", "group:a:b").unwrap(),
            ("group".into(), "a:b".into())
        );
        assert!(parse_resource_ref("resource", "admins").is_err());
        assert!(parse_resource_ref("resource", ":x").is_err());
    }
}
