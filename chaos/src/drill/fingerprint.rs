//! What a database holds, in a form two databases can be compared by: per
//! table its row count and a content checksum, and its schema objects
//! (columns, constraints, indexes, triggers, functions) by definition.
//!
//! The source is fingerprinted inside the transaction that exported the
//! snapshot `pg_dump --snapshot` dumps, so both see exactly the same rows;
//! the restored database is fingerprinted before the app is let back in.
//! The same SQL runs on both sides (this file is its one definition).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, Row};

use gauntlet_harness::stack::Stack;

/// One table: rows and the md5 over the sorted md5s of its rows' text
/// (order-independent, so a restore that loads rows in another physical
/// order still matches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePrint {
    pub rows: u64,
    pub checksum: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub tables: BTreeMap<String, TablePrint>,
    /// `constraint orders.orders_pkey: PRIMARY KEY (id)`, `index ...`, ...
    pub schema: BTreeSet<String>,
}

impl Fingerprint {
    pub fn total_rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

const TABLES_SQL: &str = "\
SELECT c.relname FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1";

const SCHEMA_SQL: &str = "\
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ': ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(c.oid)
FROM pg_class c WHERE c.relkind = 'i' AND c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname || ': ' || pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace";

/// `"name"` with embedded quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn table_sql(table: &str) -> String {
    format!(
        "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') \
         FROM public.{} t",
        quote_ident(table)
    )
}

/// Connects to the run's database service on its published port 5432 as
/// the database owner (who owns every table), whose name, password and
/// database the service's environment holds (`POSTGRES_OWNER`,
/// `POSTGRES_OWNER_PASSWORD`, `POSTGRES_DB`). Only this run's container.
pub async fn connect_owner(stack: &Stack, service: &str) -> Result<PgConnection, String> {
    let state = stack
        .state(service)
        .await
        .map_err(|e| format!("{service}: {e}"))?;
    let port = state
        .ports
        .iter()
        .find(|p| p.container_port == 5432)
        .ok_or_else(|| format!("{service} ({}) publishes no port 5432", state.state))?;
    let env = |name: &'static str| async move {
        stack
            .env_var(service, name)
            .await
            .map_err(|e| format!("{name} of {service}: {e}"))?
            .ok_or_else(|| format!("{service} has no {name}"))
    };
    let options = PgConnectOptions::new()
        .host(&port.host)
        .port(port.host_port)
        .username(&env("POSTGRES_OWNER").await?)
        .password(&env("POSTGRES_OWNER_PASSWORD").await?)
        .database(&env("POSTGRES_DB").await?)
        .application_name("gauntlet-drill")
        // Checksumming a million rows is slow by design; not a warning.
        .log_slow_statements(log::LevelFilter::Off, std::time::Duration::from_secs(3600));
    PgConnection::connect_with(&options).await.map_err(|e| {
        format!(
            "connecting to {service} at {}:{}: {e}",
            port.host, port.host_port
        )
    })
}

/// Opens a repeatable-read, read-only transaction and exports its snapshot
/// for `pg_dump --snapshot`. The snapshot lives until the transaction ends
/// (`COMMIT` on this connection, or dropping it).
pub async fn export_snapshot(conn: &mut PgConnection) -> Result<String, String> {
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *conn)
        .await
        .map_err(|e| format!("BEGIN: {e}"))?;
    sqlx::query_scalar::<_, String>("SELECT pg_export_snapshot()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| format!("pg_export_snapshot(): {e}"))
}

/// Fingerprints what `conn` sees (inside the snapshot's transaction, or a
/// plain connection to the restored database).
pub async fn fingerprint(conn: &mut PgConnection) -> Result<Fingerprint, String> {
    let tables: Vec<String> = sqlx::query_scalar(TABLES_SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| format!("listing tables: {e}"))?;
    let mut print = Fingerprint::default();
    for table in tables {
        let row = sqlx::query(&table_sql(&table))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| format!("checksumming {table}: {e}"))?;
        let rows: i64 = row.get(0);
        let checksum: String = row.get(1);
        print.tables.insert(
            table,
            TablePrint {
                rows: rows as u64,
                checksum,
            },
        );
    }
    let schema: Vec<String> = sqlx::query_scalar(SCHEMA_SQL)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| format!("reading the schema: {e}"))?;
    print.schema = schema.into_iter().collect();
    Ok(print)
}

/// The differences between the source at backup time and the restored
/// database, one sentence each; empty when they hold the same.
pub fn compare(source: &Fingerprint, restored: &Fingerprint) -> Vec<String> {
    let mut differences = Vec::new();
    let absent: Vec<String> = source
        .tables
        .iter()
        .filter(|(table, _)| !restored.tables.contains_key(*table))
        .map(|(table, want)| format!("{table} ({} rows at backup time)", want.rows))
        .collect();
    match absent.len() {
        0 => {}
        1 => differences.push(format!(
            "table {} is missing from the restored database",
            absent[0]
        )),
        n => differences.push(format!(
            "{n} of {} tables are missing from the restored database: {}",
            source.tables.len(),
            first_few(&absent.iter().collect::<Vec<_>>())
        )),
    }
    for (table, want) in &source.tables {
        match restored.tables.get(table) {
            None => {}
            Some(got) if got.rows != want.rows => differences.push(format!(
                "table {table}: {} rows restored, {} at backup time ({} {})",
                got.rows,
                want.rows,
                got.rows.abs_diff(want.rows),
                if got.rows < want.rows { "missing" } else { "extra" }
            )),
            Some(got) if got.checksum != want.checksum => differences.push(format!(
                "table {table}: same row count ({}) but different content (checksum {} restored, {} at backup time)",
                got.rows,
                short(&got.checksum),
                short(&want.checksum)
            )),
            Some(_) => {}
        }
    }
    for table in restored.tables.keys() {
        if !source.tables.contains_key(table) {
            differences.push(format!(
                "table {table} is in the restored database but was not in the source"
            ));
        }
    }
    let missing: Vec<&String> = source.schema.difference(&restored.schema).collect();
    let extra: Vec<&String> = restored.schema.difference(&source.schema).collect();
    if !missing.is_empty() {
        differences.push(format!(
            "{} schema objects missing after the restore: {}",
            missing.len(),
            first_few(&missing)
        ));
    }
    if !extra.is_empty() {
        differences.push(format!(
            "{} schema objects the source did not have: {}",
            extra.len(),
            first_few(&extra)
        ));
    }
    differences
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

fn first_few(items: &[&String]) -> String {
    let mut text: Vec<String> = items.iter().take(3).map(|s| s.to_string()).collect();
    if items.len() > 3 {
        text.push(format!("and {} more", items.len() - 3));
    }
    text.join("; ")
}

/// Constraints not validated and indexes not valid/ready/live, in the
/// restored database; empty when all are usable.
pub async fn unusable_constraints_and_indexes(
    conn: &mut PgConnection,
) -> Result<Vec<String>, String> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' is not validated'
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND NOT convalidated
         UNION ALL
         SELECT 'index ' || c.relname || ' is not valid, ready and live'
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relnamespace = 'public'::regnamespace
           AND NOT (i.indisvalid AND i.indisready AND i.indislive)",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("reading constraint and index state: {e}"))?;
    Ok(rows)
}

/// Sequences behind the largest value of the column they feed: the next
/// insert would collide with a restored row.
pub async fn sequences_behind(conn: &mut PgConnection) -> Result<(usize, Vec<String>), String> {
    let owned: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT seq.relname::text, tab.relname::text, att.attname::text
         FROM pg_depend d
         JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
         JOIN pg_class tab ON tab.oid = d.refobjid
         JOIN pg_attribute att ON att.attrelid = tab.oid AND att.attnum = d.refobjsubid
         WHERE d.deptype IN ('a', 'i') AND seq.relnamespace = 'public'::regnamespace
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| format!("listing sequences: {e}"))?;
    let mut behind = Vec::new();
    for (sequence, table, column) in &owned {
        let sql = format!(
            "SELECT s.last_value, s.is_called, (SELECT max({c})::bigint FROM public.{t}) FROM public.{s} s",
            c = quote_ident(column),
            t = quote_ident(table),
            s = quote_ident(sequence)
        );
        let (last, called, max): (i64, bool, Option<i64>) = sqlx::query_as(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| format!("reading sequence {sequence}: {e}"))?;
        let next = if called { last + 1 } else { last };
        if let Some(max) = max {
            if next <= max {
                behind.push(format!(
                    "sequence {sequence} would hand out {next} but {table}.{column} has {max}"
                ));
            }
        }
    }
    Ok((owned.len(), behind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(tables: &[(&str, u64, &str)], schema: &[&str]) -> Fingerprint {
        Fingerprint {
            tables: tables
                .iter()
                .map(|(n, r, c)| {
                    (
                        n.to_string(),
                        TablePrint {
                            rows: *r,
                            checksum: c.to_string(),
                        },
                    )
                })
                .collect(),
            schema: schema.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn equal_prints_have_no_differences() {
        let a = print(&[("orders", 3, "abc")], &["index orders_pkey"]);
        assert!(compare(&a, &a.clone()).is_empty());
    }

    #[test]
    fn missing_table_missing_rows_changed_content_and_schema_are_each_named() {
        let source = print(
            &[
                ("orders", 3, "abc"),
                ("feed_items", 2, "f"),
                ("users", 1, "u"),
            ],
            &["index a", "constraint b"],
        );
        let restored = print(
            &[("orders", 2, "abd"), ("users", 1, "v"), ("extra", 0, "")],
            &["index a"],
        );
        let diff = compare(&source, &restored).join("\n");
        assert!(
            diff.contains("table feed_items (2 rows at backup time) is missing"),
            "{diff}"
        );
        let empty = print(&[], &[]);
        let all_gone = compare(&source, &empty).join("\n");
        assert!(
            all_gone.contains("3 of 3 tables are missing from the restored database: feed_items (2 rows at backup time); orders (3 rows at backup time); users (1 rows at backup time)"),
            "{all_gone}"
        );
        assert!(
            diff.contains("table orders: 2 rows restored, 3 at backup time (1 missing)"),
            "{diff}"
        );
        assert!(
            diff.contains("table users: same row count (1) but different content"),
            "{diff}"
        );
        assert!(
            diff.contains("table extra is in the restored database"),
            "{diff}"
        );
        assert!(
            diff.contains("1 schema objects missing after the restore: constraint b"),
            "{diff}"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert!(table_sql("orders").contains("FROM public.\"orders\" t"));
    }
}
