//! Where each value of the effective configuration came from.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into gauntlet.
    Default,
    /// The project file.
    File,
    /// A `GAUNTLET_*` environment variable.
    Env(&'static str),
    /// A command-line flag.
    Flag(&'static str),
    /// Found by looking upward from the current directory.
    Found,
    /// Declared by a compose label (`dev.gauntlet.*`).
    ComposeLabel,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File => f.write_str("file"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
            Origin::Found => f.write_str("found"),
            Origin::ComposeLabel => f.write_str("compose label"),
        }
    }
}

/// Origins of the values that did not come from where their key says: the
/// file's keys are recorded as [`Origin::File`]; upper layers overwrite.
/// A key with no entry (and no file entry above it) is a default.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    by_key: BTreeMap<String, Origin>,
}

impl Origins {
    /// Every leaf key present in the file.
    pub fn from_file(raw: &toml::Table) -> Origins {
        let mut origins = Origins::default();
        fn walk(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, Origin>) {
            match value {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        walk(&join(prefix, k), v, out);
                    }
                }
                toml::Value::Array(items)
                    if items.iter().all(|i| i.is_table()) && !items.is_empty() =>
                {
                    for (n, v) in items.iter().enumerate() {
                        walk(&join(prefix, &n.to_string()), v, out);
                    }
                }
                _ => {
                    out.insert(prefix.to_string(), Origin::File);
                }
            }
        }
        for (k, v) in raw {
            walk(k, v, &mut origins.by_key);
        }
        origins
    }

    pub fn set(&mut self, key: &str, origin: Origin) {
        self.by_key.insert(key.to_string(), origin);
    }

    /// The origin of `key`: its own entry, else its nearest recorded
    /// ancestor's, else the default.
    pub fn of(&self, key: &str) -> Origin {
        let mut k = key;
        loop {
            if let Some(o) = self.by_key.get(k) {
                return o.clone();
            }
            // A value inside a list or table replaced as a whole.
            match k.rfind('.') {
                Some(i) => k = &k[..i],
                None => return Origin::Default,
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
