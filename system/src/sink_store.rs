//! The sink's durable record of deliveries: an append-only JSON-lines file,
//! one line per received delivery (duplicates included), fsync'd before the
//! delivery is acknowledged, replayed on start.
//!
//! A line torn by a crash mid-write (no trailing newline) is cut off on open,
//! so later appends start on a clean line.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FILE_NAME: &str = "deliveries.jsonl";

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    event_id: String,
    payload: Value,
    received_at: DateTime<Utc>,
}

/// One distinct event: the first payload and time, and how often it came.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    pub event_id: String,
    pub payload: Value,
    pub received_at: DateTime<Utc>,
    pub count: u64,
}

/// What `GET /deliveries` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    pub deliveries: Vec<Delivery>,
    pub unique: u64,
    pub duplicates: u64,
}

/// The outcome of recording one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub duplicate: bool,
    pub count: u64,
}

pub struct SinkStore {
    path: PathBuf,
    file: File,
    deliveries: Vec<Delivery>,
    index: HashMap<String, usize>,
    duplicates: u64,
}

impl SinkStore {
    /// Opens (creating if needed) `dir/deliveries.jsonl` and replays it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        if !existed {
            // Make the new directory entry itself durable.
            File::open(dir)?.sync_all()?;
        }
        let mut content = Vec::new();
        file.read_to_end(&mut content)?;
        let clean_len = content
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if clean_len < content.len() {
            tracing::warn!(path = %path.display(), torn_bytes = content.len() - clean_len, "cutting off a torn last line");
            file.set_len(clean_len as u64)?;
            file.sync_data()?;
        }
        let mut store = SinkStore {
            path,
            file,
            deliveries: Vec::new(),
            index: HashMap::new(),
            duplicates: 0,
        };
        for (n, line) in content[..clean_len].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => {
                    store.apply(record);
                }
                Err(e) => {
                    tracing::warn!(path = %store.path.display(), line = n + 1, error = %e, "skipping unreadable line")
                }
            }
        }
        tracing::info!(path = %store.path.display(), unique = store.deliveries.len(), duplicates = store.duplicates, "sink store loaded");
        Ok(store)
    }

    /// Appends and fsyncs the delivery, then counts it. On an I/O error
    /// nothing is counted and the caller should answer with an error.
    pub fn record(
        &mut self,
        event_id: String,
        payload: Value,
        received_at: DateTime<Utc>,
    ) -> io::Result<Recorded> {
        let record = Record {
            event_id,
            payload,
            received_at,
        };
        let mut line = serde_json::to_vec(&record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        Ok(self.apply(record))
    }

    fn apply(&mut self, record: Record) -> Recorded {
        match self.index.get(&record.event_id) {
            Some(&i) => {
                let delivery = &mut self.deliveries[i];
                delivery.count += 1;
                self.duplicates += 1;
                Recorded {
                    duplicate: true,
                    count: delivery.count,
                }
            }
            None => {
                self.index
                    .insert(record.event_id.clone(), self.deliveries.len());
                self.deliveries.push(Delivery {
                    event_id: record.event_id,
                    payload: record.payload,
                    received_at: record.received_at,
                    count: 1,
                });
                Recorded {
                    duplicate: false,
                    count: 1,
                }
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            deliveries: self.deliveries.clone(),
            unique: self.deliveries.len() as u64,
            duplicates: self.duplicates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn dedupes_by_event_id_and_counts_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SinkStore::open(dir.path()).unwrap();
        let first = store
            .record("e1".into(), json!({"event_id": "e1", "n": 1}), now())
            .unwrap();
        assert_eq!(
            first,
            Recorded {
                duplicate: false,
                count: 1
            }
        );
        store
            .record("e2".into(), json!({"event_id": "e2"}), now())
            .unwrap();
        let again = store
            .record("e1".into(), json!({"event_id": "e1", "n": 2}), now())
            .unwrap();
        assert_eq!(
            again,
            Recorded {
                duplicate: true,
                count: 2
            }
        );
        let snap = store.snapshot();
        assert_eq!((snap.unique, snap.duplicates), (2, 1));
        assert_eq!(snap.deliveries[0].payload["n"], 1, "first payload is kept");
        assert_eq!(snap.deliveries[0].count, 2);
    }

    #[test]
    fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let before = {
            let mut store = SinkStore::open(dir.path()).unwrap();
            store
                .record("a".into(), json!({"event_id": "a"}), now())
                .unwrap();
            store
                .record("a".into(), json!({"event_id": "a"}), now())
                .unwrap();
            store
                .record("b".into(), json!({"event_id": "b"}), now())
                .unwrap();
            store.snapshot()
        };
        let mut reopened = SinkStore::open(dir.path()).unwrap();
        assert_eq!(reopened.snapshot(), before);
        let r = reopened.record("b".into(), json!({}), now()).unwrap();
        assert_eq!(
            r,
            Recorded {
                duplicate: true,
                count: 2
            }
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appends_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = SinkStore::open(dir.path()).unwrap();
            store
                .record("a".into(), json!({"event_id": "a"}), now())
                .unwrap();
        }
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event_id\":\"torn\",\"payl").unwrap();
        drop(f);
        {
            let mut store = SinkStore::open(dir.path()).unwrap();
            assert_eq!(store.snapshot().unique, 1);
            store
                .record("c".into(), json!({"event_id": "c"}), now())
                .unwrap();
        }
        let snap = SinkStore::open(dir.path()).unwrap().snapshot();
        let ids: Vec<&str> = snap
            .deliveries
            .iter()
            .map(|d| d.event_id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
