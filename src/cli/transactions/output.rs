//! How the commands print: aligned tables for people, one JSON document for scripts.

use serde::Serialize;

/// A table with a header row; columns are padded to their widest cell.
#[derive(Debug)]
pub(super) struct Table {
    headers: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(headers: &'static [&'static str]) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Prints `value` as pretty JSON when `json`, else the table `table` makes of it.
pub(super) fn print<T: Serialize>(json: bool, value: &T, table: impl FnOnce(&T) -> Table) {
    if json {
        print_json(value);
    } else {
        print!("{}", table(value));
    }
}

/// Prints `value` as one pretty JSON document.
pub(super) fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output values always serialize")
    );
}

/// An optional number as Kafka's tool shows it: the value, or `None`.
pub(super) fn or_none(value: Option<i64>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let mut table = Table::new(&["TransactionalId", "State"]);
        table.row(vec![
            "a-much-longer-transactional-id".into(),
            "Ongoing".into(),
        ]);
        table.row(vec!["short".into(), "Empty".into()]);
        assert_eq!(
            table.to_string(),
            "TransactionalId                 State\n\
             a-much-longer-transactional-id  Ongoing\n\
             short                           Empty\n"
        );
        assert_eq!(Table::new(&["A", "B"]).to_string(), "A  B\n");
    }
}
