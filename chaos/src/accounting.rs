//! Stream accounting (`[accounting]`): every event the experiment's
//! `publish` actions put in must come out, delivered or dead-lettered,
//! within a deadline after the fault. The ids are read where the system
//! puts them (a Redis stream, set or list, an HTTP endpoint, a SQL query);
//! [`tally`] is the verdict over the three sets, free of any I/O.
//!
//! - **lost**: published, neither delivered nor dead-lettered by the
//!   deadline: fails the experiment;
//! - **duplicates**: delivered more than once: reported; fails only with
//!   `exactly_once = true`;
//! - **delivered and dead-lettered**: reported.
//!
//! When events are lost and `pending` names a consumer group, the group's
//! `XPENDING` count is reported: events read but never acknowledged.

use std::collections::{BTreeMap, BTreeSet};

use gauntlet_harness::config::DataKind;
use gauntlet_harness::invariants;
use gauntlet_harness::steps::template::as_text;
use serde::Serialize;
use serde_json::Value;

use crate::experiment::{AccountingSpec, IdSource, PendingSpec};
use crate::probes::resolve_data;
use crate::scope::ExperimentScope;
use crate::ChaosContext;

/// Ids shown in a report per list (the counts are always complete).
pub const SHOWN: usize = 10;

/// The three sets, compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Distinct ids published.
    pub published: usize,
    /// Published ids delivered at least once.
    pub delivered: usize,
    /// Published ids dead-lettered.
    pub dead_lettered: usize,
    /// Published ids neither delivered nor dead-lettered, in publish order.
    pub lost: Vec<String>,
    /// Published ids delivered more than once, with how many times.
    pub duplicates: Vec<(String, usize)>,
    /// Published ids both delivered and dead-lettered.
    pub delivered_and_dead: Vec<String>,
}

impl Tally {
    /// Nothing lost, and (with `exactly_once`) nothing delivered twice.
    pub fn passed(&self, exactly_once: bool) -> bool {
        self.lost.is_empty() && (!exactly_once || self.duplicates.is_empty())
    }
}

/// Compares what was published with what was delivered and dead-lettered.
/// Ids that were not published (other traffic) are ignored; an id
/// published twice counts once.
pub fn tally(published: &[String], delivered: &[String], dead: &[String]) -> Tally {
    let mut seen = BTreeSet::new();
    let ours: Vec<&String> = published.iter().filter(|id| seen.insert(*id)).collect();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for id in delivered {
        *times.entry(id.as_str()).or_default() += 1;
    }
    let dead: BTreeSet<&str> = dead.iter().map(String::as_str).collect();
    let mut t = Tally {
        published: ours.len(),
        ..Tally::default()
    };
    for id in ours {
        let delivered = times.get(id.as_str()).copied().unwrap_or(0);
        let is_dead = dead.contains(id.as_str());
        if delivered > 0 {
            t.delivered += 1;
        }
        if is_dead {
            t.dead_lettered += 1;
        }
        if delivered > 1 {
            t.duplicates.push((id.clone(), delivered));
        }
        if delivered > 0 && is_dead {
            t.delivered_and_dead.push(id.clone());
        }
        if delivered == 0 && !is_dead {
            t.lost.push(id.clone());
        }
    }
    t
}

/// The accounting of one experiment, as the report holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountingReport {
    pub id_field: String,
    /// Where delivered ids were read (`redis stream sink:delivered (id)`).
    pub delivered_from: String,
    pub dead_letter_from: Option<String>,
    pub within_ms: u64,
    pub exactly_once: bool,
    pub published: usize,
    pub delivered: usize,
    pub dead_lettered: usize,
    pub lost: usize,
    /// The first lost ids (at most [`SHOWN`]).
    pub lost_ids: Vec<String>,
    pub duplicates: usize,
    /// The first ids delivered more than once, as `id ×N`.
    pub duplicate_ids: Vec<String>,
    pub delivered_and_dead: usize,
    pub delivered_and_dead_ids: Vec<String>,
    /// When every id was accounted for, ms after the fault ended.
    pub settled_ms: Option<u64>,
    /// With `pending`, when events were lost: the consumer group's count
    /// of events read but never acknowledged.
    pub pending: Option<PendingCount>,
    /// Why the ids could not be read (at the deadline), if they could not.
    pub error: Option<String>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingCount {
    pub stream: String,
    pub group: String,
    pub count: Option<u64>,
    pub error: Option<String>,
}

impl AccountingReport {
    /// The report of a tally (`error`: the ids could not be read).
    pub fn new(
        spec: &AccountingSpec,
        tally: &Tally,
        settled_ms: Option<u64>,
        error: Option<String>,
    ) -> AccountingReport {
        AccountingReport {
            id_field: spec.id_field.clone(),
            delivered_from: spec.delivered.describe(),
            dead_letter_from: spec.dead_letter.as_ref().map(IdSource::describe),
            within_ms: spec.within.as_millis() as u64,
            exactly_once: spec.exactly_once,
            published: tally.published,
            delivered: tally.delivered,
            dead_lettered: tally.dead_lettered,
            lost: tally.lost.len(),
            lost_ids: tally.lost.iter().take(SHOWN).cloned().collect(),
            duplicates: tally.duplicates.len(),
            duplicate_ids: tally
                .duplicates
                .iter()
                .take(SHOWN)
                .map(|(id, n)| format!("{id} ×{n}"))
                .collect(),
            delivered_and_dead: tally.delivered_and_dead.len(),
            delivered_and_dead_ids: tally
                .delivered_and_dead
                .iter()
                .take(SHOWN)
                .cloned()
                .collect(),
            settled_ms,
            pending: None,
            passed: error.is_none() && tally.passed(spec.exactly_once),
            error,
        }
    }

    /// `accounting: 20 published, 18 delivered, 2 dead-lettered, 0 lost,
    /// 0 duplicates`: the counts only.
    pub fn counts_line(&self) -> String {
        format!(
            "accounting: {} published, {} delivered, {} dead-lettered, {} lost, {} duplicate{}",
            self.published,
            self.delivered,
            self.dead_lettered,
            self.lost,
            self.duplicates,
            if self.duplicates == 1 { "" } else { "s" }
        )
    }

    /// The counts, then what went wrong, with the ids.
    pub fn summary_line(&self) -> String {
        let mut line = self.counts_line();
        if self.delivered_and_dead > 0 {
            line.push_str(&format!(
                ", {} both delivered and dead-lettered ({})",
                self.delivered_and_dead,
                listed(&self.delivered_and_dead_ids, self.delivered_and_dead)
            ));
        }
        if let Some(e) = &self.error {
            line.push_str(&format!("; ids unreadable: {e}"));
        }
        if self.lost > 0 {
            line.push_str(&format!(
                "; lost within {:.1} s: {}",
                self.within_ms as f64 / 1000.0,
                listed(&self.lost_ids, self.lost)
            ));
        }
        if self.duplicates > 0 {
            line.push_str(&format!(
                "; delivered more than once{}: {}",
                if self.exactly_once {
                    " (exactly_once)"
                } else {
                    ""
                },
                listed(&self.duplicate_ids, self.duplicates)
            ));
        }
        if let Some(p) = &self.pending {
            match (p.count, &p.error) {
                (Some(n), _) => line.push_str(&format!(
                    "; {n} read but never acknowledged (XPENDING {} {})",
                    p.stream, p.group
                )),
                (None, Some(e)) => line.push_str(&format!(
                    "; XPENDING {} {} unreadable: {e}",
                    p.stream, p.group
                )),
                _ => {}
            }
        }
        line
    }
}

/// `a, b, c` and `… (N in all)` when there are more.
fn listed(shown: &[String], all: usize) -> String {
    let mut text = shown.join(", ");
    if all > shown.len() {
        text.push_str(&format!(", … ({all} in all)"));
    }
    text
}

/// Every `field` of every entry of a stream, server-side (the entries'
/// fields come back flat from `redis-cli`, so they are picked in Lua).
const STREAM_FIELD_LUA: &str = "local out = {} \
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do \
  local f = e[2] \
  for i = 1, #f, 2 do \
    if f[i] == ARGV[1] then out[#out + 1] = f[i + 1] end \
  end \
end \
return out";

/// The ids at `source` now.
pub async fn read_ids(
    ctx: &ChaosContext,
    client: &reqwest::Client,
    source: &IdSource,
    id_field: &str,
    scope: &ExperimentScope,
) -> Result<Vec<String>, String> {
    let sut = ctx.sut();
    let key = |k: &str| scope.render(k);
    let redis =
        |data: &Option<String>| resolve_data(&sut.config, DataKind::Redis, data.as_deref(), None);
    match source {
        IdSource::RedisStream {
            data,
            key: k,
            field,
        } => {
            let data = redis(data)?;
            let k = key(k)?;
            let reply = redis_cli(ctx, &data, &["EVAL", STREAM_FIELD_LUA, "1", &k, field]).await?;
            Ok(lines(&reply))
        }
        IdSource::RedisSet { data, key: k } => {
            let data = redis(data)?;
            Ok(lines(
                &redis_cli(ctx, &data, &["SMEMBERS", &key(k)?]).await?,
            ))
        }
        IdSource::RedisList {
            data,
            key: k,
            field,
        } => {
            let data = redis(data)?;
            let reply = redis_cli(ctx, &data, &["LRANGE", &key(k)?, "0", "-1"]).await?;
            Ok(match field {
                None => lines(&reply),
                Some(field) => lines(&reply)
                    .iter()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter_map(|v| v.get(field).map(as_text))
                    .collect(),
            })
        }
        IdSource::Http {
            endpoint,
            path,
            pointer,
            field,
        } => {
            let base = ctx
                .endpoint(endpoint)
                .await
                .map_err(|e| format!("endpoint `{endpoint}` unavailable: {e}"))?;
            let path = key(path)?;
            let response = client
                .get(format!("{base}{path}"))
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| {
                    format!("GET {path}: {}", gauntlet_harness::target::error_chain(&e))
                })?;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if status != 200 {
                return Err(format!("GET {path} answered {status}"));
            }
            let doc: Value = serde_json::from_str(&body)
                .map_err(|_| format!("GET {path}: the body is not JSON"))?;
            ids_in_json(&doc, pointer, field.as_deref().unwrap_or(id_field))
                .map_err(|e| format!("GET {path}: {e}"))
        }
        IdSource::Sql { data, query } => {
            let data = resolve_data(&sut.config, DataKind::Postgres, data.as_deref(), None)?;
            let rows = invariants::query(sut, &data, &key(query)?)
                .await
                .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .filter_map(|r| r.into_iter().next())
                .collect())
        }
    }
}

/// The ids in the array at `pointer`: each element an id (a string or a
/// number) or an object with `field`.
pub fn ids_in_json(doc: &Value, pointer: &str, field: &str) -> Result<Vec<String>, String> {
    let items = doc
        .pointer(pointer)
        .ok_or_else(|| format!("nothing at `{pointer}`"))?
        .as_array()
        .ok_or_else(|| format!("`{pointer}` is not an array"))?;
    Ok(items
        .iter()
        .filter_map(|item| match item {
            Value::Object(o) => o.get(field).map(as_text),
            Value::String(_) | Value::Number(_) => Some(as_text(item)),
            _ => None,
        })
        .collect())
}

/// `XPENDING stream group`: how many events the group read and never
/// acknowledged.
pub async fn pending(
    ctx: &ChaosContext,
    spec: &PendingSpec,
    scope: &ExperimentScope,
) -> PendingCount {
    let stream = scope
        .render(&spec.stream)
        .unwrap_or_else(|_| spec.stream.clone());
    let group = scope
        .render(&spec.group)
        .unwrap_or_else(|_| spec.group.clone());
    let result = async {
        let data = resolve_data(
            &ctx.sut().config,
            DataKind::Redis,
            spec.data.as_deref(),
            None,
        )?;
        let reply = redis_cli(ctx, &data, &["XPENDING", &stream, &group]).await?;
        reply
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("reply `{}`", reply.lines().next().unwrap_or("")))
    }
    .await;
    PendingCount {
        stream,
        group,
        count: result.as_ref().ok().copied(),
        error: result.err(),
    }
}

/// `redis-cli` on a data service; an error reply is an error.
async fn redis_cli(ctx: &ChaosContext, data: &str, argv: &[&str]) -> Result<String, String> {
    let reply = invariants::redis(ctx.sut(), data, argv)
        .await
        .map_err(|e| e.to_string())?;
    let first = reply.lines().next().unwrap_or("").trim();
    let error_words = [
        "ERR",
        "WRONGTYPE",
        "NOGROUP",
        "NOSCRIPT",
        "NOAUTH",
        "(error)",
    ];
    if error_words
        .iter()
        .any(|w| first.starts_with(&format!("{w} ")) || first == *w)
    {
        return Err(format!("`redis-cli {}`: {first}", argv[0]));
    }
    Ok(reply)
}

fn lines(reply: &str) -> Vec<String> {
    reply
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use serde_json::json;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn spec(exactly_once: bool) -> AccountingSpec {
        AccountingSpec {
            id_field: "id".into(),
            delivered: IdSource::RedisStream {
                data: None,
                key: "sink".into(),
                field: "id".into(),
            },
            dead_letter: Some(IdSource::RedisSet {
                data: None,
                key: "dead".into(),
            }),
            within: Duration::from_secs(30),
            pending: None,
            exactly_once,
        }
    }

    #[test]
    fn every_event_delivered_or_dead_lettered_passes() {
        let t = tally(&ids(&["a", "b", "c"]), &ids(&["a", "x", "b"]), &ids(&["c"]));
        assert_eq!(
            t,
            Tally {
                published: 3,
                delivered: 2,
                dead_lettered: 1,
                ..Tally::default()
            }
        );
        assert!(t.passed(true));
    }

    #[test]
    fn lost_events_fail_and_are_named_in_publish_order() {
        let t = tally(&ids(&["e3", "e1", "e2", "e1"]), &ids(&["e1"]), &[]);
        assert_eq!(t.published, 3, "an id published twice counts once");
        assert_eq!(t.lost, ids(&["e3", "e2"]));
        assert!(!t.passed(false));
        let published: Vec<String> = (0..25).map(|i| format!("e{i}")).collect();
        let report = AccountingReport::new(&spec(false), &tally(&published, &[], &[]), None, None);
        assert!(!report.passed);
        assert_eq!(report.lost, 25);
        assert_eq!(report.lost_ids.len(), SHOWN);
        let line = report.summary_line();
        assert!(line.contains("25 lost"), "{line}");
        assert!(line.contains("lost within 30.0 s: e0, e1,"), "{line}");
        assert!(line.contains("… (25 in all)"), "{line}");
    }

    #[test]
    fn duplicates_are_reported_and_fail_only_exactly_once() {
        let t = tally(&ids(&["a", "b"]), &ids(&["a", "a", "b", "a"]), &[]);
        assert_eq!(t.duplicates, vec![("a".to_string(), 3)]);
        assert!(t.lost.is_empty());
        assert!(t.passed(false));
        assert!(!t.passed(true));
        let lenient = AccountingReport::new(&spec(false), &t, Some(10), None);
        assert!(lenient.passed);
        assert_eq!(lenient.duplicate_ids, vec!["a ×3"]);
        assert!(
            lenient.summary_line().contains("1 duplicate;"),
            "{}",
            lenient.summary_line()
        );
        let strict = AccountingReport::new(&spec(true), &t, Some(10), None);
        assert!(!strict.passed);
        assert!(strict.summary_line().contains("(exactly_once)"));
    }

    #[test]
    fn delivered_and_dead_lettered_is_reported_not_failed() {
        let t = tally(&ids(&["a", "b"]), &ids(&["a", "b"]), &ids(&["b", "zz"]));
        assert_eq!(t.delivered_and_dead, ids(&["b"]));
        assert_eq!((t.delivered, t.dead_lettered), (2, 1));
        assert!(t.passed(true));
        let report = AccountingReport::new(&spec(false), &t, Some(5), None);
        assert!(report
            .summary_line()
            .contains("1 both delivered and dead-lettered (b)"));
    }

    #[test]
    fn unreadable_ids_fail_and_pending_names_the_symptom() {
        let mut report = AccountingReport::new(
            &spec(false),
            &tally(&ids(&["a"]), &[], &[]),
            None,
            Some("NOGROUP".into()),
        );
        assert!(!report.passed);
        report.pending = Some(PendingCount {
            stream: "events".into(),
            group: "relay".into(),
            count: Some(1),
            error: None,
        });
        let line = report.summary_line();
        assert!(line.contains("ids unreadable: NOGROUP"), "{line}");
        assert!(
            line.contains("1 read but never acknowledged (XPENDING events relay)"),
            "{line}"
        );
    }

    #[test]
    fn ids_come_from_arrays_of_ids_or_of_objects() {
        let doc = json!({"items": [{"id": "a"}, {"id": 7}, {"other": 1}], "ids": ["x", 2]});
        assert_eq!(ids_in_json(&doc, "/items", "id").unwrap(), ids(&["a", "7"]));
        assert_eq!(ids_in_json(&doc, "/ids", "id").unwrap(), ids(&["x", "2"]));
        assert!(ids_in_json(&doc, "/nope", "id").is_err());
        assert!(ids_in_json(&json!([1]), "", "id").is_ok());
    }
}
