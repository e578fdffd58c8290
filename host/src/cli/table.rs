//! Aligned tables for people: on a terminal, columns that fit its width (long cells wrap);
//! elsewhere, columns as wide as their cells, one row per line, for `grep` and `cut`.

use std::io::IsTerminal;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};

use super::output::out;

/// A table with these column headers; `right` lists the columns aligned right (numbers).
pub struct Columns {
    table: Table,
}

impl Columns {
    /// An empty table under `headers`.
    pub fn new(headers: &[&str], right: &[usize]) -> Columns {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        match terminal_width() {
            Some(width) => {
                table
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_width(width);
            }
            None => {
                table.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        table.set_header(headers.to_vec());
        for (i, column) in table.column_iter_mut().enumerate() {
            column.set_padding((0, 2));
            if right.contains(&i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        Columns { table }
    }

    /// Adds a row, one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        self.table.add_row(cells);
    }

    /// Prints the table to stdout.
    pub fn print(self) {
        for line in self.table.lines() {
            out!("{}", line.trim_end());
        }
    }
}

/// The width of the terminal stdout is, if it is one.
fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let (_, columns) = console::Term::stdout().size_checked()?;
    Some(columns.max(40))
}
