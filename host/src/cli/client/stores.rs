//! `keywarden stores ...`: Keyfactor certificate stores (`/KeyfactorAPI/CertificateStores`).

use clap::Subcommand;
use serde_json::{Value, json};

use super::args::KeyfactorPaging;
use super::body::{Fields, FileArg, parse_json};
use super::error::{ClientError, ClientResult};
use super::http::{Call, Client};
use super::render::{Column, View, show};

const PATH: &str = "/KeyfactorAPI/CertificateStores";

const COLUMNS: &[Column] = &[
    ("ID", "/Id"),
    ("CLIENT MACHINE", "/ClientMachine"),
    ("STORE PATH", "/Storepath"),
    ("TYPE", "/CertStoreTypeName"),
    ("APPROVED", "/Approved"),
    ("AGENT", "/AgentId"),
];

#[derive(Debug, Subcommand)]
pub enum StoresCommand {
    /// List certificate stores.
    List(KeyfactorPaging),
    Get {
        id: String,
    },
    /// Create a store from flags and/or `--file`.
    Create(StoreFields),
    /// Replace a store (PUT): give every field, as `get -o json` shows them.
    Update {
        id: String,
        #[command(flatten)]
        fields: StoreFields,
    },
    Delete {
        id: String,
    },
    /// The certificates found by the last inventory, of one store or of all.
    Inventory {
        /// The store [default: every store].
        id: Option<String>,
        /// Only certificates expiring within this many days.
        #[arg(long)]
        expiring_within_days: Option<u32>,
        #[command(flatten)]
        paging: KeyfactorPaging,
    },
    /// Set the inventory schedule of stores.
    Schedule {
        /// A store id; repeatable.
        #[arg(long = "store", required_unless_present = "file")]
        stores: Vec<String>,
        /// The schedule as JSON (`{"Interval":{"Minutes":15}}`, `{"Off":true}`...).
        #[arg(long, value_name = "JSON")]
        schedule: Option<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Add a certificate to stores (`--file`: the Keyfactor request body).
    Add(FileArg),
    /// Remove a certificate from stores (`--file`: the Keyfactor request body).
    Remove(FileArg),
    /// Reenroll a store's certificate (`--file`: the Keyfactor request body).
    Reenroll(FileArg),
    /// Schedule a discovery job (`--file`: the Keyfactor request body).
    Discover(FileArg),
    /// Store paths found by discovery jobs.
    DiscoveredPaths(KeyfactorPaging),
}

/// A store's fields as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreFields {
    #[arg(long)]
    pub client_machine: Option<String>,
    #[arg(long)]
    pub storepath: Option<String>,
    /// Keyfactor's type id (0 JKS, 2 PEM, 102 PKCS12) or a type name a plugin serves.
    #[arg(long = "type")]
    pub store_type: Option<String>,
    /// The agent serving the store.
    #[arg(long)]
    pub agent_id: Option<String>,
    /// The secret holding the store's password (never the password itself).
    #[arg(long)]
    pub password_secret: Option<String>,
    /// The store type's properties as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub properties: Option<String>,
    #[arg(long)]
    pub create_if_missing: Option<bool>,
    /// The inventory schedule as JSON (`{"Immediate":true}`).
    #[arg(long, value_name = "JSON")]
    pub inventory_schedule: Option<String>,
    #[command(flatten)]
    pub file: FileArg,
}

impl StoreFields {
    fn body(&self, id: Option<String>) -> Result<Value, ClientError> {
        let store_type = self.store_type.as_ref().map(|t| match t.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(t),
        });
        let schedule = self
            .inventory_schedule
            .as_deref()
            .map(|s| parse_json("--inventory-schedule", s))
            .transpose()?;
        let properties = self
            .properties
            .as_deref()
            .map(|p| parse_json("--properties", p))
            .transpose()?;
        let fields = Fields::default()
            .set("Id", id)
            .set("ClientMachine", self.client_machine.clone())
            .set("Storepath", self.storepath.clone())
            .set("CertStoreType", store_type)
            .set("AgentId", self.agent_id.clone())
            .set(
                "Password",
                self.password_secret
                    .clone()
                    .map(|s| json!({"SecretName": s})),
            )
            .set("Properties", properties)
            .set("CreateIfMissing", self.create_if_missing)
            .set("InventorySchedule", schedule);
        self.file.merged(fields.done())
    }
}

pub async fn run(client: &Client, command: StoresCommand) -> ClientResult {
    match command {
        StoresCommand::List(paging) => {
            show(client, paging.apply(Call::get(PATH)), View::List(COLUMNS)).await
        }
        StoresCommand::Get { id } => {
            show(client, Call::get(format!("{PATH}/{id}")), View::Object).await
        }
        StoresCommand::Create(fields) => {
            show(client, Call::post(PATH, fields.body(None)?), View::Object).await
        }
        StoresCommand::Update { id, fields } => {
            show(
                client,
                Call::put(PATH, fields.body(Some(id))?),
                View::Object,
            )
            .await
        }
        StoresCommand::Delete { id } => {
            show(
                client,
                Call::delete(format!("{PATH}/{id}")),
                View::Done("deleted"),
            )
            .await
        }
        StoresCommand::Inventory {
            id,
            expiring_within_days,
            paging,
        } => {
            let path = match id {
                Some(id) => format!("{PATH}/{id}/Inventory"),
                None => format!("{PATH}/Inventory"),
            };
            let call = Call::get(path).query("ExpiringWithinDays", expiring_within_days);
            show(client, paging.apply(call), View::Rows).await
        }
        StoresCommand::Schedule {
            stores,
            schedule,
            file,
        } => {
            let schedule = schedule
                .as_deref()
                .map(|s| parse_json("--schedule", s))
                .transpose()?;
            let ids = (!stores.is_empty()).then(|| json!(stores));
            let fields = Fields::default()
                .set("StoreIds", ids)
                .set("Schedule", schedule);
            let call = Call::post(format!("{PATH}/Schedule"), file.merged(fields.done())?);
            show(client, call, View::Done("scheduled")).await
        }
        StoresCommand::Add(file) => {
            let call = Call::post(format!("{PATH}/Certificates/Add"), file.required()?);
            show(client, call, View::Object).await
        }
        StoresCommand::Remove(file) => {
            let call = Call::post(format!("{PATH}/Certificates/Remove"), file.required()?);
            show(client, call, View::Object).await
        }
        StoresCommand::Reenroll(file) => {
            let call = Call::post(format!("{PATH}/Reenrollment"), file.required()?);
            show(client, call, View::Done("reenrollment scheduled")).await
        }
        StoresCommand::Discover(file) => {
            let call = Call::put(format!("{PATH}/DiscoveryJob"), file.required()?);
            show(client, call, View::Done("discovery scheduled")).await
        }
        StoresCommand::DiscoveredPaths(paging) => {
            let call = paging.apply(Call::get(format!("{PATH}/DiscoveredPaths")));
            show(client, call, View::Rows).await
        }
    }
}
