//! `keywarden ssl ...`: TLS discovery (`/KeyfactorAPI/SSL`): networks and their ranges,
//! scans and their parts, the endpoints found.

use clap::Subcommand;
use serde_json::{Value, json};

use super::args::KeyfactorPaging;
use super::body::{Fields, FileArg};
use super::error::{ClientError, ClientResult};
use super::http::{Call, Client};
use super::render::{Column, View, show};

const PATH: &str = "/KeyfactorAPI/SSL";

const NETWORK_COLUMNS: &[Column] = &[
    ("NETWORK ID", "/NetworkId"),
    ("NAME", "/Name"),
    ("ENABLED", "/Enabled"),
    ("DISCOVER STATUS", "/DiscoverStatus"),
    ("MONITOR STATUS", "/MonitorStatus"),
    ("DISCOVERED", "/DiscoverLastScanned"),
];

#[derive(Debug, Subcommand)]
pub enum SslCommand {
    /// SSL networks.
    #[command(subcommand)]
    Networks(NetworksCommand),
    /// The ranges of a network.
    #[command(subcommand)]
    Ranges(RangesCommand),
    /// Start a scan of a network.
    Scan {
        network: String,
        /// Discover endpoints in the ranges.
        #[arg(long)]
        discovery: bool,
        /// Probe the monitored endpoints.
        #[arg(long)]
        monitoring: bool,
    },
    /// The parts of a network's scans.
    Parts { network: String },
    /// One scan part.
    Part { id: String },
    /// Scan results: endpoints found (`--query`).
    Results(KeyfactorPaging),
    /// One endpoint.
    Endpoint { id: String },
    /// An endpoint's probe history.
    EndpointHistory {
        id: String,
        #[command(flatten)]
        paging: KeyfactorPaging,
    },
    /// Monitor endpoints (`--off`: stop monitoring them).
    Monitor {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        off: bool,
    },
    /// Mark endpoints reviewed (`--off`: not reviewed).
    Review {
        #[arg(required = true)]
        ids: Vec<String>,
        #[arg(long)]
        off: bool,
    },
    /// Monitor every endpoint the query matches.
    MonitorAll {
        #[arg(long, short = 'q')]
        query: Option<String>,
    },
    /// Mark every endpoint the query matches reviewed.
    ReviewAll {
        #[arg(long, short = 'q')]
        query: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NetworksCommand {
    List(KeyfactorPaging),
    /// One network, by name or id.
    Get {
        network: String,
    },
    /// Create a network from flags and/or `--file`.
    Create {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        agent_pool_name: Option<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Replace a network (PUT; `--file` with its fields, `NetworkId` included).
    Update(FileArg),
    Delete {
        network: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RangesCommand {
    /// A network's ranges.
    Get { network: String },
    /// Add ranges to a network.
    Add(RangeFields),
    /// Replace a network's ranges.
    Replace(RangeFields),
    /// Check ranges without saving them.
    Validate(RangeFields),
    /// Delete every range of a network.
    Delete { network: String },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RangeFields {
    #[arg(long)]
    pub network: Option<String>,
    /// A range (`10.0.0.0/24:443,8443`); repeatable.
    #[arg(long = "range")]
    pub ranges: Vec<String>,
    #[command(flatten)]
    pub file: FileArg,
}

impl RangeFields {
    fn call(&self, method: reqwest::Method, path: &str) -> Result<Call, ClientError> {
        let ranges = (!self.ranges.is_empty()).then(|| json!(self.ranges));
        let fields = Fields::default()
            .set("NetworkId", self.network.clone())
            .set("Ranges", ranges);
        Ok(Call::new(method, format!("{PATH}/{path}")).body(self.file.merged(fields.done())?))
    }
}

/// The `[{Id, Status}]` body of MonitorStatus and ReviewStatus.
fn flags(ids: &[String], off: bool) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"Id": id, "Status": !off}))
            .collect(),
    )
}

pub async fn run(client: &Client, command: SslCommand) -> ClientResult {
    use reqwest::Method;
    match command {
        SslCommand::Networks(command) => networks(client, command).await,
        SslCommand::Ranges(RangesCommand::Get { network }) => {
            show(
                client,
                Call::get(format!("{PATH}/NetworkRanges/{network}")),
                View::Rows,
            )
            .await
        }
        SslCommand::Ranges(RangesCommand::Add(fields)) => {
            show(
                client,
                fields.call(Method::POST, "NetworkRanges")?,
                View::Done("added"),
            )
            .await
        }
        SslCommand::Ranges(RangesCommand::Replace(fields)) => {
            show(
                client,
                fields.call(Method::PUT, "NetworkRanges")?,
                View::Done("replaced"),
            )
            .await
        }
        SslCommand::Ranges(RangesCommand::Validate(fields)) => {
            show(
                client,
                fields.call(Method::POST, "NetworkRanges/Validate")?,
                View::Object,
            )
            .await
        }
        SslCommand::Ranges(RangesCommand::Delete { network }) => {
            let call = Call::delete(format!("{PATH}/NetworkRanges/{network}"));
            show(client, call, View::Done("deleted")).await
        }
        SslCommand::Scan {
            network,
            discovery,
            monitoring,
        } => {
            let body = json!({"Discovery": discovery, "Monitoring": monitoring});
            let call = Call::post(format!("{PATH}/Networks/{network}/Scan"), body);
            show(client, call, View::Done("scan started")).await
        }
        SslCommand::Parts { network } => {
            show(
                client,
                Call::get(format!("{PATH}/Networks/{network}/Parts")),
                View::Rows,
            )
            .await
        }
        SslCommand::Part { id } => {
            show(
                client,
                Call::get(format!("{PATH}/Parts/{id}")),
                View::Object,
            )
            .await
        }
        SslCommand::Results(paging) => {
            show(client, paging.apply(Call::get(PATH)), View::Rows).await
        }
        SslCommand::Endpoint { id } => {
            show(
                client,
                Call::get(format!("{PATH}/Endpoints/{id}")),
                View::Object,
            )
            .await
        }
        SslCommand::EndpointHistory { id, paging } => {
            let call = paging.apply(Call::get(format!("{PATH}/Endpoints/{id}/History")));
            show(client, call, View::Rows).await
        }
        SslCommand::Monitor { ids, off } => {
            let call = Call::put(format!("{PATH}/Endpoints/MonitorStatus"), flags(&ids, off));
            show(client, call, View::Done("done")).await
        }
        SslCommand::Review { ids, off } => {
            let call = Call::put(format!("{PATH}/Endpoints/ReviewStatus"), flags(&ids, off));
            show(client, call, View::Done("done")).await
        }
        SslCommand::MonitorAll { query } => {
            let call = Call::new(Method::PUT, format!("{PATH}/Endpoints/MonitorAll"))
                .query("QueryString", query);
            show(client, call, View::Done("done")).await
        }
        SslCommand::ReviewAll { query } => {
            let call = Call::new(Method::PUT, format!("{PATH}/Endpoints/ReviewAll"))
                .query("QueryString", query);
            show(client, call, View::Done("done")).await
        }
    }
}

async fn networks(client: &Client, command: NetworksCommand) -> ClientResult {
    let path = format!("{PATH}/Networks");
    match command {
        NetworksCommand::List(paging) => {
            show(
                client,
                paging.apply(Call::get(path)),
                View::List(NETWORK_COLUMNS),
            )
            .await
        }
        NetworksCommand::Get { network } => {
            show(client, Call::get(format!("{path}/{network}")), View::Object).await
        }
        NetworksCommand::Create {
            name,
            description,
            agent_pool_name,
            file,
        } => {
            let fields = Fields::default()
                .set("Name", name)
                .set("Description", description)
                .set("AgentPoolName", agent_pool_name);
            show(
                client,
                Call::post(path, file.merged(fields.done())?),
                View::Object,
            )
            .await
        }
        NetworksCommand::Update(file) => {
            show(client, Call::put(path, file.required()?), View::Object).await
        }
        NetworksCommand::Delete { network } => {
            show(
                client,
                Call::delete(format!("{path}/{network}")),
                View::Done("deleted"),
            )
            .await
        }
    }
}
