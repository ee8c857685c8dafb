//! The backup file's content, once decrypted and decompressed: JSON lines.
//!
//! ```text
//! {"header":{"format":"keywarden-backup","format_version":1,"schema_version":...,...}}
//! {"table":{"name":"accounts","columns":[["id","text"],["created_at","bigint"]],"rows":2}}
//! ["admin",1764570000000000]          one array per row, one value per column
//! ...                                  every table, parents before children
//! {"manifest":{"schema_version":...,"created_at":...,"tables":[...],"checksum":"sha256:..."}}
//! ```
//!
//! The manifest comes last because its checksum (SHA-256 of every line before it, as
//! written) and row counts are only known then; the header repeats the schema version so
//! a reader can refuse a backup from a newer schema before reading further. Lines are
//! plain JSON so a backup opened with `age -d | zstd -d` can be read with `jq`.

use std::io::{BufRead, BufReader, Read, Write};

use chrono::{DateTime, Utc};
use keywarden_db::{Cell, ColumnType, TableSchema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the header's `format` says.
pub const FORMAT: &str = "keywarden-backup";
/// The version of this line format (not of the database schema).
pub const FORMAT_VERSION: u32 = 1;
/// zstd level: fast, and most of the gain on JSON lines.
const ZSTD_LEVEL: i32 = 3;

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    /// The newest migration of the database it was taken from.
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    /// `sqlite` or `postgres`: where it was taken (either restores it).
    pub source_backend: String,
    #[serde(default)]
    pub description: String,
    /// The job that took it (running while its own row was read).
    #[serde(default)]
    pub job_id: Option<uuid::Uuid>,
}

/// A table's line, before its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLine {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
    pub rows: u64,
}

/// Rows of one table, as the manifest counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    pub name: String,
    pub rows: u64,
}

/// The last line: what the backup holds and the checksum of every line before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: i64,
    pub created_at: DateTime<Utc>,
    pub source_backend: String,
    pub tables: Vec<TableCount>,
    /// `sha256:<hex>` of the lines before the manifest.
    pub checksum: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    Header(Header),
    Table(TableLine),
    Manifest(Manifest),
}

/// One line read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Header(Header),
    Table(TableLine),
    Row(Vec<Cell>),
    Manifest(Manifest),
}

/// Writes the lines, compressed, into `out` (the age writer), hashing as it goes.
pub struct Writer<W: Write> {
    out: zstd::stream::write::Encoder<'static, W>,
    hash: Sha256,
    header: Header,
    tables: Vec<TableCount>,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Starts a backup with `header`.
    pub fn new(out: W, header: Header) -> std::io::Result<Self> {
        let mut w = Writer {
            out: zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?,
            hash: Sha256::new(),
            header: header.clone(),
            tables: Vec::new(),
            buf: Vec::with_capacity(4096),
        };
        w.line(&Record::Header(header))?;
        Ok(w)
    }

    fn line<T: Serialize>(&mut self, value: &T) -> std::io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value)?;
        self.buf.push(b'\n');
        self.hash.update(&self.buf);
        self.out.write_all(&self.buf)
    }

    /// Starts a table of `rows` rows.
    pub fn table(&mut self, table: &TableSchema, rows: u64) -> std::io::Result<()> {
        self.tables.push(TableCount {
            name: table.name.clone(),
            rows,
        });
        self.line(&Record::Table(TableLine {
            name: table.name.clone(),
            columns: table.columns.clone(),
            rows,
        }))
    }

    /// One row of the last table.
    pub fn row(&mut self, row: &[Cell]) -> std::io::Result<()> {
        self.line(&row)
    }

    /// Writes the manifest and ends the compression; returns the manifest and the
    /// inner writer (whose own ending is the caller's).
    pub fn finish(mut self) -> std::io::Result<(Manifest, W)> {
        let manifest = Manifest {
            schema_version: self.header.schema_version,
            created_at: self.header.created_at,
            source_backend: self.header.source_backend.clone(),
            tables: std::mem::take(&mut self.tables),
            checksum: format!("sha256:{}", hex::encode(self.hash.clone().finalize())),
        };
        let line = serde_json::to_vec(&Record::Manifest(manifest.clone()))?;
        self.out.write_all(&line)?;
        self.out.write_all(b"\n")?;
        Ok((manifest, self.out.finish()?))
    }
}

/// Reads the lines back from the decrypted stream, checking the checksum and the
/// counts as it goes: [`Reader::next_line`] fails on anything that does not fit.
pub struct Reader<R: Read> {
    input: BufReader<zstd::stream::read::Decoder<'static, BufReader<R>>>,
    hash: Sha256,
    buf: Vec<u8>,
    header: Option<Header>,
    tables: Vec<TableCount>,
    rows_left: u64,
    done: bool,
}

/// The longest line a reader takes (a row of a large certificate chain is far below):
/// a hostile file cannot make one line take all memory.
const MAX_LINE: u64 = 64 << 20;

/// zstd's window, as a power of two (8 MiB, above what the writer's level 3 uses); a file asking
/// for more is refused rather than given the memory.
const WINDOW_LOG_MAX: u32 = 23;

impl<R: Read> Reader<R> {
    pub fn new(input: R) -> std::io::Result<Self> {
        let mut decoder = zstd::stream::read::Decoder::new(input)?;
        decoder.window_log_max(WINDOW_LOG_MAX)?;
        Ok(Reader {
            input: BufReader::with_capacity(1 << 16, decoder),
            hash: Sha256::new(),
            buf: Vec::with_capacity(4096),
            header: None,
            tables: Vec::new(),
            rows_left: 0,
            done: false,
        })
    }

    /// The next line, `None` after the manifest (which was checked: the checksum, the
    /// counts, nothing after it). Errors say what is wrong in words for the operator.
    pub fn next_line(&mut self) -> Result<Option<Line>, String> {
        if self.done {
            return Ok(None);
        }
        self.buf.clear();
        let n = (&mut self.input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(damaged)?;
        if n == 0 {
            return Err("the backup ends before its manifest (truncated)".to_owned());
        }
        if n as u64 > MAX_LINE {
            return Err(format!(
                "the backup has a line longer than {} MiB",
                MAX_LINE >> 20
            ));
        }
        if self.buf.first() == Some(&b'[') {
            if self.header.is_none() || self.tables.is_empty() || self.rows_left == 0 {
                return Err("the backup holds a row where none belongs".to_owned());
            }
            self.rows_left -= 1;
            self.hash.update(&self.buf);
            let row: Vec<Cell> = serde_json::from_slice(&self.buf)
                .map_err(|e| format!("a row does not parse: {e}"))?;
            return Ok(Some(Line::Row(row)));
        }
        let record: Record = serde_json::from_slice(&self.buf)
            .map_err(|e| format!("a line of the backup does not parse: {e}"))?;
        match record {
            Record::Header(h) => {
                if self.header.is_some() {
                    return Err("the backup has two headers".to_owned());
                }
                if h.format != FORMAT || h.format_version > FORMAT_VERSION {
                    return Err(format!(
                        "not a backup this version reads (format {} version {}; reads {FORMAT} version {FORMAT_VERSION})",
                        h.format, h.format_version
                    ));
                }
                self.hash.update(&self.buf);
                self.header = Some(h.clone());
                Ok(Some(Line::Header(h)))
            }
            Record::Table(t) => {
                if self.tables.iter().any(|seen| seen.name == t.name) {
                    return Err(format!("the backup holds table {} twice", t.name));
                }
                if self.header.is_none() || self.rows_left != 0 {
                    return Err(format!(
                        "table {} starts before the rows before it ended",
                        t.name
                    ));
                }
                self.hash.update(&self.buf);
                self.rows_left = t.rows;
                self.tables.push(TableCount {
                    name: t.name.clone(),
                    rows: t.rows,
                });
                Ok(Some(Line::Table(t)))
            }
            Record::Manifest(m) => {
                if self.rows_left != 0 {
                    return Err("the manifest comes before the last table's rows ended".to_owned());
                }
                let checksum = format!("sha256:{}", hex::encode(self.hash.clone().finalize()));
                if m.checksum != checksum {
                    return Err(format!(
                        "the backup's checksum does not match its content ({} in the manifest, {checksum} read)",
                        m.checksum
                    ));
                }
                if m.tables != self.tables {
                    return Err("the manifest's row counts differ from the tables read".to_owned());
                }
                if let Some(h) = &self.header
                    && (m.schema_version != h.schema_version || m.created_at != h.created_at)
                {
                    return Err("the manifest and the header disagree".to_owned());
                }
                let mut rest = [0_u8; 1];
                if self.input.read(&mut rest).map_err(damaged)? != 0 {
                    return Err("the backup has data after its manifest".to_owned());
                }
                self.done = true;
                Ok(Some(Line::Manifest(m)))
            }
        }
    }
}

/// A read failure of the decrypting stream: age refuses altered or truncated chunks.
fn damaged(e: std::io::Error) -> String {
    format!("the backup is damaged or was altered (authentication failed): {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            schema_version: 7,
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            source_backend: "sqlite".to_owned(),
            description: String::new(),
            job_id: None,
        }
    }

    fn written(rows: &[Vec<Cell>]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), header()).unwrap();
        let table = TableSchema {
            name: "t".to_owned(),
            columns: vec![
                ("id".to_owned(), ColumnType::Text),
                ("n".to_owned(), ColumnType::Bigint),
            ],
        };
        w.table(&table, rows.len() as u64).unwrap();
        for r in rows {
            w.row(r).unwrap();
        }
        w.finish().unwrap().1
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Line>, String> {
        let mut r = Reader::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(line) = r.next_line()? {
            out.push(line);
        }
        Ok(out)
    }

    fn plain(bytes: &[u8]) -> String {
        String::from_utf8(zstd::decode_all(bytes).unwrap()).unwrap()
    }

    fn packed(text: &str) -> Vec<u8> {
        zstd::encode_all(text.as_bytes(), 1).unwrap()
    }

    #[test]
    fn lines_round_trip_and_the_manifest_checks_them() {
        let rows = vec![
            vec![Cell::Text("a\n\"b\"".to_owned()), Cell::Int(-1)],
            vec![Cell::Text("c".to_owned()), Cell::Null],
        ];
        let bytes = written(&rows);
        let lines = read_all(&bytes).unwrap();
        assert!(matches!(&lines[0], Line::Header(h) if h.schema_version == 7));
        assert_eq!(lines[2], Line::Row(rows[0].clone()));
        let Some(Line::Manifest(m)) = lines.last() else {
            panic!("manifest last: {lines:?}")
        };
        assert_eq!(
            m.tables,
            vec![TableCount {
                name: "t".to_owned(),
                rows: 2
            }]
        );

        // A changed value: the checksum says so.
        let text = plain(&bytes).replace("\"c\"", "\"d\"");
        let err = read_all(&packed(&text)).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        // A row dropped: the counts say so.
        let text: String = plain(&bytes)
            .lines()
            .filter(|l| !l.contains("\"c\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = read_all(&packed(&text)).unwrap_err();
        assert!(err.contains("before the last table's rows ended"), "{err}");
        // No manifest.
        let text: String = plain(&bytes)
            .lines()
            .filter(|l| !l.starts_with("{\"manifest\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = read_all(&packed(&text)).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        // Something after it.
        let err = read_all(&packed(&format!("{}[1]\n", plain(&bytes)))).unwrap_err();
        assert!(err.contains("after its manifest"), "{err}");
    }
}
