//! Plain-text tables for people: columns as wide as the widest of the first rows, so that a
//! million-row listing streams without being held in memory.
//!
//! Hand-written because no table crate streams this way: comfy-table's and tabled's `Table` hold
//! every row until they print, and tabled's `IterTable` pulls rows from an iterator (the c1z
//! reader pushes them through a callback) and cuts later cells to the widths it sniffed, where
//! here a wider later cell is printed whole and only pushes its row out of line.

use std::io::{self, Write};

/// Rows buffered to size the columns; later rows reuse those widths.
const SIZING_ROWS: usize = 1000;

pub struct Table {
    widths: Vec<usize>,
    pending: Vec<Vec<String>>,
    header: Vec<String>,
    printed_header: bool,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            widths: header.iter().map(|h| h.chars().count()).collect(),
            pending: Vec::new(),
            header: header.iter().map(|h| h.to_uppercase()).collect(),
            printed_header: false,
        }
    }

    /// Adds a row; kept until [`Table::print`] or [`Table::stream`] writes it.
    /// What a `.c1z` file holds, one count a row, as `stats` and the one-shot sync's summary
    /// print it.
    pub fn counts(
        resource_types: u64,
        resources_by_type: &std::collections::BTreeMap<String, u64>,
        entitlements: u64,
        grants: u64,
    ) -> Self {
        let mut table = Self::new(["", "count"]);
        table.row(["resource types".to_string(), resource_types.to_string()]);
        for (type_id, count) in resources_by_type {
            table.row([format!("resources: {type_id}"), count.to_string()]);
        }
        table.row(["entitlements".to_string(), entitlements.to_string()]);
        table.row(["grants".to_string(), grants.to_string()]);
        table
    }

    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        for (width, cell) in self.widths.iter_mut().zip(&cells) {
            *width = (*width).max(cell.chars().count());
        }
        self.pending.push(cells.to_vec());
    }

    /// Adds a row and writes out rows once enough have been seen to size the columns.
    pub fn stream<const N: usize>(
        &mut self,
        out: &mut impl Write,
        cells: [String; N],
    ) -> io::Result<()> {
        if self.printed_header {
            return self.write_row(out, &cells);
        }
        self.row(cells);
        if self.pending.len() >= SIZING_ROWS {
            self.print(out)?;
        }
        Ok(())
    }

    /// Writes the header (once) and every pending row.
    pub fn print(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.printed_header {
            let header = std::mem::take(&mut self.header);
            self.write_row(out, &header)?;
            self.printed_header = true;
        }
        for row in std::mem::take(&mut self.pending) {
            self.write_row(out, &row)?;
        }
        Ok(())
    }

    fn write_row(&self, out: &mut impl Write, cells: &[String]) -> io::Result<()> {
        let last = cells.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            line.push_str(cell);
            if i < last {
                let pad = width.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut table = Table::new(["id", "name"]);
        table.row(["a".into(), "Ann".into()]);
        table.row(["long-id".into(), "Bo".into()]);
        let mut out = Vec::new();
        table.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID       NAME\na        Ann\nlong-id  Bo\n"
        );
    }

    #[test]
    fn rows_after_the_sizing_rows_keep_the_widths_and_are_printed_whole() {
        let mut table = Table::new(["id", "name"]);
        let mut out = Vec::new();
        for _ in 0..SIZING_ROWS {
            table.stream(&mut out, ["a".into(), "Ann".into()]).unwrap();
        }
        // The header and the sizing rows are out before the table ends.
        assert_eq!(out.split(|&b| b == b'\n').count(), SIZING_ROWS + 2);
        table
            .stream(&mut out, ["a-much-longer-id".into(), "Bo".into()])
            .unwrap();
        table.print(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), SIZING_ROWS + 2);
        assert_eq!(lines[0], "ID  NAME");
        assert_eq!(lines[1], "a   Ann");
        assert_eq!(lines[SIZING_ROWS + 1], "a-much-longer-id  Bo");
    }
}
