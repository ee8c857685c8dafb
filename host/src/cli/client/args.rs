//! Flags every client command shares: where the server is, the token, the output, paging.

use std::path::PathBuf;

use super::body::key_value;
use super::http::Call;
use super::render::Output;

/// Where the server is and how to talk to it. The token is never a flag: other users see
/// flags in process lists.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "KEYWARDEN_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Read the bearer token from this file [default: the KEYWARDEN_TOKEN variable].
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Trust this PEM CA certificate for HTTPS (e.g. the server's <data-dir>/tls/ca-cert.pem).
    #[arg(long, global = true, env = "KEYWARDEN_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// `table` for people, `json` for scripts (the server's JSON, unchanged).
    #[arg(
        long,
        short = 'o',
        global = true,
        env = "KEYWARDEN_OUTPUT",
        value_enum,
        default_value = "table"
    )]
    pub output: Output,
}

/// A resource's subcommands with the client flags, which may come before or after them.
#[derive(Debug, clap::Args)]
pub struct Remote<C: clap::Subcommand> {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: C,
}

/// Paging and filters of the `/api/v1` lists.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Paging {
    #[arg(long)]
    pub skip: Option<u64>,
    #[arg(long)]
    pub limit: Option<u64>,
    /// Sort key, `-` first for descending (e.g. `-createdAt`).
    #[arg(long, allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Any other query parameter the endpoint takes; repeatable.
    #[arg(long = "filter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub filters: Vec<(String, String)>,
}

impl Paging {
    pub fn apply(&self, call: Call) -> Call {
        call.query("skip", self.skip)
            .query("limit", self.limit)
            .query("sort", self.sort.as_deref())
            .query_pairs(&self.filters)
    }
}

/// Query, paging and sorting of the `/KeyfactorAPI` lists.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyfactorPaging {
    /// A query in Keyfactor's language (`Status -eq 3 AND JobType -eq "Inventory"`).
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Page number, from 1.
    #[arg(long)]
    pub page: Option<u64>,
    /// Rows per page.
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long)]
    pub sort_field: Option<String>,
    /// Sort descending.
    #[arg(long)]
    pub descending: bool,
    /// Any other query parameter the endpoint takes; repeatable.
    #[arg(long = "filter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub filters: Vec<(String, String)>,
}

impl KeyfactorPaging {
    pub fn apply(&self, call: Call) -> Call {
        let ascending = self.sort_field.as_ref().map(|_| u8::from(!self.descending));
        call.query("QueryString", self.query.as_deref())
            .query("PageReturned", self.page)
            .query("ReturnLimit", self.limit)
            .query("SortField", self.sort_field.as_deref())
            .query("SortAscending", ascending)
            .query_pairs(&self.filters)
    }
}
