//! The manifest every store plugin publishes: the four Keyfactor operations for its
//! store type, with the `store.properties` schema documented in the params schema.

use keywarden_sdk::prelude::*;

use crate::format::StoreFormat;

/// Guest path the plugins ask the operator to preopen for their stores.
pub const STORES_DIR: &str = "/stores";

pub fn manifest<F: StoreFormat>(name: &str, version: &str) -> Manifest {
    let params = |what: &str| {
        json!({
            "type": "object",
            "description": format!(
                "{what} The store itself comes in the job's `store` record (type {}, path \
                 under a granted directory, `password-secret` naming the secret that holds \
                 the password; passwords are never params). `$defs.storeProperties` \
                 describes the record's `properties` object.",
                F::STORE_TYPE
            ),
            "$defs": {"storeProperties": F::properties_schema()}
        })
    };
    let ty = F::STORE_TYPE;
    Manifest::new(name, version)
        .describe(F::DESCRIPTION)
        .operations([
            Operation::certificate_store("Inventory", ty)
                .describe("List the entries of a store: alias, chain (leaf first), whether it has a private key")
                .params_schema(params("Inventory takes no params.")),
            Operation::certificate_store("Management", ty)
                .dry_run()
                .describe("Add (refuses to replace an alias unless overwrite is set), Remove, or Create a store")
                .params_schema(params("Management takes no params; the entry comes in the job's new-entry record.")),
            Operation::certificate_store("Discovery", ty)
                .describe("Find stores under the requested directories by extension, ignored directories and name patterns")
                .params_schema(params("Discovery takes no params; the search comes in the job's discovery request.")),
            Operation::certificate_store("Reenrollment", ty)
                .dry_run()
                .describe("Generate a key inside the sandbox, have the host's CA sign a CSR, install key and chain under the alias")
                .params_schema(params("Reenrollment takes no params; subject, SANs and key type come in the job's reenrollment request.")),
        ])
        .capabilities(
            Capabilities::new()
                .write_path(STORES_DIR, format!("the {ty} stores this plugin reads and writes"))
                .csr_enrollment(),
        )
}
