//! What every AWS KMS test does: grant the plugin a server, schedule and run a rotation
//! through the REST API, read KMS back with boto3.

use keywarden_tests::aws::{KmsServer, SECRET_KEY, plugin_grants};
use keywarden_tests::cloud_jobs;
use keywarden_tests::server::TestServer;
use serde_json::{Value, json};

pub use keywarden_tests::cloud_jobs::{CONFIGS, details};

/// Operator config granting the plugin the server's host and the two credential secrets.
pub fn grants(server: &impl KmsServer) -> String {
    plugin_grants(server, "")
}

/// Creates a `cckm_key_rotation` config with `params` (cloud_name added), runs it now
/// and returns the finished job.
pub async fn rotate(s: &TestServer, name: &str, params: Value) -> Value {
    let id = create(s, name, "cckm_key_rotation", params).await;
    run(s, &id).await
}

pub async fn create(s: &TestServer, name: &str, operation: &str, params: Value) -> String {
    cloud_jobs::create(s, name, operation, "aws", params).await
}

pub async fn run(s: &TestServer, config_id: &str) -> Value {
    cloud_jobs::run(s, config_id, &[SECRET_KEY]).await
}

/// KMS as boto3 sees it: key id -> key.
pub fn kms(server: &impl KmsServer) -> Vec<Value> {
    server.boto3(&["dump"], None)["keys"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn key<'a>(keys: &'a [Value], id: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["KeyId"] == id)
        .unwrap_or_else(|| panic!("key {id} not in KMS"))
}

pub fn holder<'a>(keys: &'a [Value], alias: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["aliases"].as_array().unwrap().iter().any(|a| a == alias))
        .unwrap_or_else(|| panic!("no key carries {alias}"))
}

pub fn archived_aliases(k: &Value, alias: &str) -> Vec<String> {
    let prefix = format!("{alias}-");
    k["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .filter(|a| {
            a.strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect()
}

pub fn setup(server: &impl KmsServer, keys: Value) -> Value {
    server.boto3(&["setup"], Some(&json!({ "keys": keys })))
}
