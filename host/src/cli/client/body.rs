//! Request bodies: raw JSON from `--file FILE` (or `-` for stdin), with flags on top.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::ClientError;

/// `--file`: the raw JSON body, for requests too big for flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FileArg {
    /// Read the request body (JSON) from this file, `-` for stdin; flags override its fields.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

impl FileArg {
    /// The file's JSON, or `None` without `--file`.
    pub fn read(&self) -> Result<Option<Value>, ClientError> {
        self.file.as_deref().map(read_json).transpose()
    }

    /// The file's JSON; `--file` is required for this command.
    pub fn required(&self) -> Result<Value, ClientError> {
        self.read()?.ok_or_else(|| {
            ClientError::local("this command needs the request body: --file FILE (or - for stdin)")
        })
    }

    /// The file's object with `fields` set over it (fields given as flags win).
    pub fn merged(&self, fields: Map<String, Value>) -> Result<Value, ClientError> {
        let mut body = match self.read()? {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(ClientError::local("--file must hold a JSON object")),
        };
        body.extend(fields);
        Ok(Value::Object(body))
    }
}

pub fn read_json(path: &Path) -> Result<Value, ClientError> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| ClientError::local(format!("stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| ClientError::local(format!("{}: {e}", path.display())))?
    };
    serde_json::from_str(&text)
        .map_err(|e| ClientError::local(format!("{} is not JSON: {e}", path.display())))
}

/// A flag holding JSON (`--params '{"name":"Ada"}'`).
pub fn parse_json(flag: &str, text: &str) -> Result<Value, ClientError> {
    serde_json::from_str(text).map_err(|e| ClientError::local(format!("{flag} is not JSON: {e}")))
}

/// `KEY=VALUE` for clap; the value is kept as text.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// Builds a JSON object from optional flag values, leaving out the absent ones.
#[derive(Debug, Default)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    pub fn set(mut self, key: &str, value: Option<impl Into<Value>>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_owned(), v.into());
        }
        self
    }

    pub fn done(self) -> Map<String, Value> {
        self.0
    }
}
