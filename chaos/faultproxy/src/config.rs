//! The `--config` file: Toxiproxy's `-config` format, a JSON array of
//! proxies (`[{"name","listen","upstream","enabled"}]`; the array may also
//! be wrapped as `{"proxies": [...]}`), loaded at start-up.
//!
//! Unlike Toxiproxy, which logs a bad file and starts with no proxies, a
//! bad file stops the server: a fault proxy silently missing its proxies
//! would make every experiment that runs through it meaningless.

use std::path::{Path, PathBuf};

use crate::api::proxy_list;
use crate::model::ProxyConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read proxy config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "proxy config file {}: {message}; expected a JSON array like \
         [{{\"name\": \"postgres\", \"listen\": \"0.0.0.0:15432\", \"upstream\": \"postgres:5432\", \"enabled\": true}}]",
        path.display()
    )]
    Invalid { path: PathBuf, message: String },
}

/// Reads and checks a config file; nothing is created yet.
pub fn load(path: &Path) -> Result<Vec<ProxyConfig>, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Checks the contents of a config file; `path` is for messages only.
pub fn parse(path: &Path, text: &[u8]) -> Result<Vec<ProxyConfig>, ConfigError> {
    proxy_list(text).map_err(|err| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: err.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input and the part of the message expected for it.
    const CASES: &[(&str, &str)] = &[
        (
            "[",
            "bad request body: EOF while parsing a list at line 1 column 1",
        ),
        (r#"{"name": "x"}"#, "expected an array of proxies"),
        (
            r#"[{"listen": ":1", "upstream": "a:1"}]"#,
            "missing required field: name at proxy 1",
        ),
        (
            r#"[{"name": "a", "upstream": 5}]"#,
            "with string name/listen/upstream",
        ),
        (
            r#"[{"name": "a", "upstream": "a:1"}, {"name": "a", "upstream": "b:1"}]"#,
            "duplicate proxy name \"a\" at proxy 2",
        ),
    ];

    #[test]
    fn bad_files_are_reported_with_their_name() {
        for (text, expected) in CASES {
            let err = parse(Path::new("/etc/fp.json"), text.as_bytes()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("proxy config file /etc/fp.json: "),
                "{message}"
            );
            assert!(message.contains(expected), "{text}: {message}");
        }
    }

    #[test]
    fn toxiproxy_format_is_read() {
        let text = br#"[{"name":"postgres","listen":"0.0.0.0:15432","upstream":"postgres:5432","enabled":true},
                        {"name":"redis","listen":"0.0.0.0:16379","upstream":"redis:6379"}]"#;
        let configs = parse(Path::new("c.json"), text).unwrap();
        assert_eq!(configs.len(), 2);
        assert_eq!(
            configs[1],
            ProxyConfig::new("redis", "0.0.0.0:16379", "redis:6379")
        );
    }

    #[test]
    fn missing_file_is_named() {
        let err = load(Path::new("/nonexistent/fp.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/fp.json"), "{err}");
    }
}
