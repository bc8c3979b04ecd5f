//! The reduction buffer: a batch's changes, collapsed to the last change of each row.
//!
//! Within one batch, several changes to one primary key leave only the last: an
//! upsert after an upsert is the later upsert, a delete after an upsert is the delete,
//! and an upsert after a delete is a delete followed by the upsert (the row is
//! replaced whole, as the two records would have replaced it, and an `insert.mode`
//! insert does not meet the row it replaces). Writing every table's deletes before its
//! upserts is then the same as writing the records one by one, since no two entries
//! concern the same row except a delete-then-upsert pair. Tables are written in the
//! order their first record arrived. Rows without a key (`primary.key.mode` none) are
//! all kept, in order.

use std::collections::HashMap;

use super::row::Change;
use super::table_name::TableId;
use super::types::Cell;

/// One table's part of a batch, ready to write.
#[derive(Debug)]
pub(crate) struct TableBatch {
    pub(crate) table: TableId,
    /// Rows to delete first: deletes, and the rows an upsert after a delete replaces.
    pub(crate) deletes: Vec<Change>,
    /// Rows to write, in arrival order of their last change.
    pub(crate) upserts: Vec<Change>,
}

#[derive(Debug, Default)]
struct TableBuffer {
    /// Per key, its slot in `entries`.
    by_key: HashMap<Vec<Cell>, usize>,
    /// The last change of each key, and whether a delete came before it.
    entries: Vec<Option<(Change, bool)>>,
}

/// A batch's changes by table, reduced per key.
#[derive(Debug, Default)]
pub(crate) struct ReductionBuffer {
    tables: Vec<(TableId, TableBuffer)>,
    index: HashMap<TableId, usize>,
    len: usize,
}

impl ReductionBuffer {
    pub(crate) fn push(&mut self, change: Change) {
        self.len += 1;
        let slot = *self.index.entry(change.table.clone()).or_insert_with(|| {
            self.tables
                .push((change.table.clone(), TableBuffer::default()));
            self.tables.len() - 1
        });
        let buffer = &mut self.tables[slot].1;
        if change.columns.key_len == 0 {
            buffer.entries.push(Some((change, false)));
            return;
        }
        let key = change.key().to_vec();
        let deleted_before = match buffer.by_key.get(&key) {
            Some(&at) => match buffer.entries[at].take() {
                Some((previous, deleted)) => previous.delete || deleted,
                None => false,
            },
            None => false,
        };
        buffer.entries.push(Some((change, deleted_before)));
        buffer.by_key.insert(key, buffer.entries.len() - 1);
    }

    /// How many changes were pushed (before reduction).
    pub(crate) fn pushed(&self) -> usize {
        self.len
    }

    /// The reduced batch, table by table in order of first arrival.
    pub(crate) fn drain(self) -> Vec<TableBatch> {
        self.tables
            .into_iter()
            .map(|(table, buffer)| {
                let mut batch = TableBatch {
                    table,
                    deletes: Vec::new(),
                    upserts: Vec::new(),
                };
                for (change, deleted_before) in buffer.entries.into_iter().flatten() {
                    if change.delete {
                        batch.deletes.push(change);
                    } else {
                        if deleted_before {
                            batch.deletes.push(Change {
                                cells: change.key().to_vec(),
                                delete: true,
                                ..change.clone()
                            });
                        }
                        batch.upserts.push(change);
                    }
                }
                batch
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jdbc_sink::row::{Column, Columns};
    use crate::jdbc_sink::types::FieldType;

    fn change(table: &str, id: i64, value: Option<&str>) -> Change {
        let mut columns = vec![Column {
            name: "id".into(),
            ty: FieldType::Int64,
            optional: false,
        }];
        let mut cells = vec![Cell::Text(id.to_string())];
        if let Some(value) = value {
            columns.push(Column {
                name: "v".into(),
                ty: FieldType::Text,
                optional: true,
            });
            cells.push(Cell::Text(value.into()));
        }
        Change {
            table: TableId {
                schema: None,
                name: table.into(),
            },
            columns: Arc::new(Columns {
                columns,
                key_len: 1,
            }),
            cells,
            delete: value.is_none(),
        }
    }

    fn summary(batch: &TableBatch) -> (Vec<String>, Vec<String>) {
        let text = |c: &Change| format!("{:?}", c.cells);
        (
            batch.deletes.iter().map(text).collect(),
            batch.upserts.iter().map(text).collect(),
        )
    }

    #[test]
    fn the_last_change_of_each_key_wins() {
        let mut buffer = ReductionBuffer::default();
        buffer.push(change("a", 1, Some("x")));
        buffer.push(change("a", 2, Some("y")));
        buffer.push(change("a", 1, Some("z")));
        buffer.push(change("a", 2, None));
        buffer.push(change("b", 1, Some("q")));
        buffer.push(change("a", 3, None));
        buffer.push(change("a", 3, Some("back")));
        assert_eq!(buffer.pushed(), 7);
        let batches = buffer.drain();
        let names: Vec<String> = batches.iter().map(|b| b.table.to_string()).collect();
        assert_eq!(names, ["a", "b"]);
        let (deletes, upserts) = summary(&batches[0]);
        assert_eq!(
            deletes,
            [r#"[Text("2")]"#, r#"[Text("3")]"#],
            "the delete of 2, and 3's delete before its re-insert"
        );
        assert_eq!(
            upserts,
            [r#"[Text("1"), Text("z")]"#, r#"[Text("3"), Text("back")]"#]
        );
        assert_eq!(summary(&batches[1]).1.len(), 1);
    }

    /// A small seeded generator (xorshift64*), so the property test below needs no
    /// dependency and a failure names its seed.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }

    /// Applying the reduced batch (each table's deletes, then its upserts) to any
    /// starting rows gives what applying the changes one by one gives; and when the
    /// changes never insert a row that exists (valid for `insert.mode=insert`), no
    /// reduced upsert meets an existing row either.
    #[test]
    fn reduction_is_equivalent_to_applying_changes_one_by_one() {
        use std::collections::BTreeMap;
        type Rows = BTreeMap<(String, String), String>;
        for seed in 1..=2000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut start = Rows::new();
            for table in ["a", "b"] {
                for id in 0..4 {
                    if rng.below(2) == 0 {
                        start.insert((table.into(), id.to_string()), "old".into());
                    }
                }
            }
            let mut sequential = start.clone();
            let mut buffer = ReductionBuffer::default();
            let mut insert_only = true;
            for step in 0..rng.below(8) {
                let table = ["a", "b"][rng.below(2) as usize];
                let id = rng.below(4) as i64;
                let key = (table.to_string(), id.to_string());
                let value = (rng.below(2) != 0).then(|| format!("v{step}"));
                match &value {
                    Some(value) => {
                        insert_only &= !sequential.contains_key(&key);
                        sequential.insert(key, value.clone());
                    }
                    None => {
                        sequential.remove(&key);
                    }
                }
                buffer.push(change(table, id, value.as_deref()));
            }
            let mut reduced = start.clone();
            for batch in buffer.drain() {
                let table = batch.table.name.clone();
                let key = |c: &Change| match &c.cells[0] {
                    Cell::Text(id) => (table.clone(), id.clone()),
                    other => panic!("{other:?}"),
                };
                for delete in &batch.deletes {
                    reduced.remove(&key(delete));
                }
                for upsert in &batch.upserts {
                    let Cell::Text(value) = &upsert.cells[1] else {
                        panic!("seed {seed}: no value");
                    };
                    let existed = reduced.insert(key(upsert), value.clone()).is_some();
                    assert!(
                        !(insert_only && existed),
                        "seed {seed}: an insert met an existing row"
                    );
                }
            }
            assert_eq!(reduced, sequential, "seed {seed}");
        }
    }

    #[test]
    fn rows_without_a_key_are_all_kept() {
        let mut buffer = ReductionBuffer::default();
        for value in ["a", "b", "a"] {
            let mut c = change("t", 0, Some(value));
            Arc::make_mut(&mut c.columns).key_len = 0;
            buffer.push(c);
        }
        assert_eq!(buffer.drain()[0].upserts.len(), 3);
    }
}
