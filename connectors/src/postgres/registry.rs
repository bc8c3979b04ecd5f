//! The captured tables by relation OID, each built from what the stream says its
//! columns are (a pgoutput Relation message, sent again after every schema change)
//! or, for a snapshot, from the catalog at the snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgConnection;
use weir_connect::ConnectError;

use super::catalog::{self, CatalogColumn, CatalogTable, TypeCache};
use super::config::PostgresConfig;
use super::pgoutput::Relation;
use super::table::{Column, Table};
use super::types::ColumnMapping;

/// A column as the stream or the catalog names it.
struct ColumnSpec {
    name: String,
    type_oid: u32,
    type_modifier: i32,
}

#[derive(Debug)]
pub(crate) struct TableRegistry {
    config: Arc<PostgresConfig>,
    types: TypeCache,
    /// `None`: a relation the filters leave out.
    by_oid: HashMap<u32, Option<Arc<Table>>>,
}

impl TableRegistry {
    pub(crate) fn new(config: Arc<PostgresConfig>) -> TableRegistry {
        TableRegistry {
            config,
            types: TypeCache::default(),
            by_oid: HashMap::new(),
        }
    }

    /// The table a change names; `None` when it is not captured. A relation the
    /// stream has not described is an error: pgoutput always describes it first.
    pub(crate) fn get(&self, oid: u32) -> Result<Option<&Arc<Table>>, ConnectError> {
        match self.by_oid.get(&oid) {
            Some(table) => Ok(table.as_ref()),
            None => Err(ConnectError::internal(format!(
                "a change names relation {oid}, which the stream never described"
            ))),
        }
    }

    /// Takes in a Relation message: the table's columns from now on.
    pub(crate) async fn describe(
        &mut self,
        conn: &mut PgConnection,
        relation: &Relation,
    ) -> Result<(), ConnectError> {
        if !self
            .config
            .tables
            .captures(&relation.namespace, &relation.name)
        {
            self.by_oid.insert(relation.id, None);
            return Ok(());
        }
        // A type may have changed with the table (ALTER TYPE … ADD VALUE).
        self.types.clear();
        let catalog = catalog::columns(conn, relation.id).await?;
        let specs = relation
            .columns
            .iter()
            .map(|c| ColumnSpec {
                name: c.name.clone(),
                type_oid: c.type_oid,
                type_modifier: c.type_modifier,
            })
            .collect();
        let table = self
            .build(conn, &relation.namespace, &relation.name, specs, &catalog)
            .await?;
        tracing::debug!(table = %table.qualified, columns = table.columns.len(), "table described");
        self.by_oid.insert(relation.id, Some(Arc::new(table)));
        Ok(())
    }

    /// The table as the catalog (inside the snapshot's transaction) describes it.
    pub(crate) async fn for_snapshot(
        &mut self,
        conn: &mut PgConnection,
        table: &CatalogTable,
    ) -> Result<(Arc<Table>, Vec<String>), ConnectError> {
        let catalog = catalog::columns(conn, table.oid).await?;
        let specs = catalog
            .iter()
            .map(|c| ColumnSpec {
                name: c.name.clone(),
                type_oid: c.type_oid,
                type_modifier: c.type_modifier,
            })
            .collect();
        let built = Arc::new(
            self.build(conn, &table.schema, &table.name, specs, &catalog)
                .await?,
        );
        let names = catalog.into_iter().map(|c| c.name).collect();
        Ok((built, names))
    }

    async fn build(
        &mut self,
        conn: &mut PgConnection,
        schema: &str,
        name: &str,
        specs: Vec<ColumnSpec>,
        catalog: &[CatalogColumn],
    ) -> Result<Table, ConnectError> {
        let config = self.config.clone();
        let mut columns = Vec::with_capacity(specs.len());
        for spec in &specs {
            let ty = self.types.get(conn, spec.type_oid).await?;
            let mapping = ColumnMapping::new(&ty, spec.type_modifier, &config.types);
            let known = catalog.iter().find(|c| c.name == spec.name);
            let optional = known.is_none_or(|c| !c.not_null);
            let kept = config.columns.keeps(schema, name, &spec.name);
            columns.push(Column::new(spec.name.clone(), mapping, optional, kept));
        }
        let key: Vec<usize> = match config.key_columns_for(schema, name) {
            Some(names) => {
                let mut key = Vec::with_capacity(names.len());
                for wanted in names {
                    let i = specs
                        .iter()
                        .position(|s| &s.name == wanted)
                        .ok_or_else(|| {
                            ConnectError::user(format!(
                            "message.key.columns names {wanted} of {schema}.{name}, which has no \
                             such column"
                        ))
                        })?;
                    key.push(i);
                }
                key
            }
            None => specs
                .iter()
                .enumerate()
                .filter(|(_, s)| catalog.iter().any(|c| c.name == s.name && c.primary_key))
                .map(|(i, _)| i)
                .collect(),
        };
        Ok(Table::new(
            &config.topic_prefix,
            schema.to_string(),
            name.to_string(),
            config.table_topic(schema, name),
            columns,
            key,
        ))
    }
}
