use std::path::Path;

use super::*;
use crate::operator_config::OperatorConfig;

const CONFIG: &str = r#"
[secrets]
a-pw = { value = "a" }
b-pw = { value = "b" }
[plugins.pem-store]
secrets = ["a-pw", "b-pw"]
outbound_hosts = ["http://127.0.0.1:5000", "kms.example"]
settings = { region = "eu-west-1", keep = "yes" }
dirs = [{ host = "/srv/stores", guest = "/stores", writable = true }]
[accounts.team-a.plugins.pem-store]
operations = ["Inventory"]
dirs = ["/stores/team-a"]
secrets = ["a-pw"]
outbound_hosts = ["HTTP://127.0.0.1:5000"]
settings = { region = "us-east-2" }
[accounts.team-c]
"#;

fn config() -> OperatorConfig {
    toml::from_str(CONFIG).unwrap()
}

fn plugin_grants(config: &OperatorConfig) -> PreparedGrants {
    PreparedGrants::new(&config.runtime, &config.grants_for("pem-store"))
}

#[test]
fn the_admin_account_keeps_the_plugins_grants() {
    let config = config();
    let plugin = plugin_grants(&config);
    let admin =
        effective_grants(&config, ADMIN_ACCOUNT, "pem-store", &plugin, "Management").unwrap();
    assert!(admin.grant.is_none());
    assert_eq!(admin.grants.dirs.len(), 1);
    assert_eq!(admin.grants.secrets.len(), 2);
    assert!(admin.grants.issuance.is_none());
}

#[test]
fn an_account_without_a_grant_can_use_nothing() {
    let config = config();
    let plugin = plugin_grants(&config);
    let none = effective_grants(&config, "team-b", "pem-store", &plugin, "Inventory").unwrap_err();
    assert!(none.reason.contains("[accounts.team-b]"), "{}", none.reason);
    let empty = effective_grants(&config, "team-c", "pem-store", &plugin, "Inventory").unwrap_err();
    assert!(
        empty.reason.contains("[accounts.team-c.plugins.pem-store]"),
        "{}",
        empty.reason
    );
    let op = effective_grants(&config, "team-a", "pem-store", &plugin, "Management").unwrap_err();
    assert!(op.reason.contains("operations: Inventory"), "{}", op.reason);
}

#[test]
fn an_accounts_grant_narrows_the_plugins() {
    let config = config();
    let plugin = plugin_grants(&config);
    let a = effective_grants(&config, "team-a", "pem-store", &plugin, "Inventory").unwrap();
    let dir = &a.grants.dirs[0];
    assert_eq!(dir.guest, "/stores/team-a");
    assert_eq!(dir.host, Path::new("/srv/stores/team-a"));
    assert!(dir.writable);
    assert!(path_granted(&a.grants, "/stores/team-a/web.pem"));
    assert!(!path_granted(&a.grants, "/stores/team-b/web.pem"));
    assert!(!path_granted(&a.grants, "/stores/team-a/../team-b/web.pem"));
    assert!(!path_granted(&a.grants, "/stores/team-ab/web.pem"));
    assert_eq!(a.grants.secrets.iter().collect::<Vec<_>>(), ["a-pw"]);
    assert!(a.grants.outbound.allows("127.0.0.1", 5000, true));
    assert!(!a.grants.outbound.allows("kms.example", 443, false));
    assert_eq!(a.grants.settings["region"], "us-east-2");
    assert_eq!(a.grants.settings["keep"], "yes");
    assert!(!a.grants.csr_enrollment);
    assert!(a.grants.issuance.is_some());
}

#[test]
fn relative_paths_are_components_below_the_directory() {
    assert_eq!(
        relative_to("/stores", "/stores/a/b.pem"),
        Some(vec!["a", "b.pem"])
    );
    assert_eq!(relative_to("/stores/", "/stores"), Some(vec![]));
    assert_eq!(relative_to("/", "/x"), Some(vec!["x"]));
    assert_eq!(relative_to("/stores", "/storesx/a"), None);
    assert_eq!(relative_to("/stores", "stores/a"), None);
    assert_eq!(relative_to("/stores", "/stores/./a"), None);
}

#[test]
fn grants_the_plugin_does_not_have_are_refused_at_start() {
    assert!(check_accounts(&config()).is_ok());
    for (bad, says) in [
        ("[accounts.x.plugins.nope]\n", "[plugins.nope] is missing"),
        (
            "[accounts.x.plugins.pem-store]\ndirs = [\"/elsewhere\"]\n",
            "not at or under",
        ),
        (
            "[accounts.x.plugins.pem-store]\ndirs = [\"/stores/../etc\"]\n",
            "not at or under",
        ),
        (
            "[accounts.x.plugins.pem-store]\nsecrets = [\"root-pw\"]\n",
            "not granted to plugin",
        ),
        (
            "[accounts.x.plugins.pem-store]\noutbound_hosts = [\"evil.example\"]\n",
            "not one of the plugin's",
        ),
        (
            "[accounts.x.plugins.pem-store]\ntls_probe = true\n",
            "tls_probe",
        ),
        (
            "[accounts.x.plugins.pem-store]\ntls_networks = [\"10.0.0.0/8\"]\n",
            "not within the plugin's",
        ),
        (
            "[accounts.x.plugins.pem-store]\ntls_networks = [\"10.0.0.0/33\"]\n",
            "is not a network",
        ),
        ("[accounts.x.authorities.ca]\n", "no [authorities.ca]"),
        ("[accounts.admin]\n", "admin account"),
        ("[accounts.\"bad name\"]\n", "not a valid account name"),
    ] {
        let config: OperatorConfig = toml::from_str(&format!("{CONFIG}{bad}")).unwrap();
        let err = check_accounts(&config).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

/// The two-team example of the README is a config `serve` accepts, and means what the
/// README says.
#[test]
fn the_readme_example_holds() {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("### Accounts: teams sharing one server")
        .nth(1)
        .expect("the README's accounts section");
    let toml_text = section
        .split("```toml")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("its TOML example");
    let config: OperatorConfig = toml::from_str(toml_text).expect("the example parses");
    check_accounts(&config).expect("the example is consistent");
    let store = PreparedGrants::new(&config.runtime, &config.grants_for("pem-store"));
    let web = effective_grants(&config, "web", "pem-store", &store, "Inventory").unwrap();
    assert!(path_granted(&web.grants, "/stores/web/site.pem"));
    assert!(!path_granted(&web.grants, "/stores/pay/site.pem"));
    assert!(effective_grants(&config, "pay", "pem-store", &store, "Inventory").is_err());
    let aws = PreparedGrants::new(&config.runtime, &config.grants_for("aws-kms"));
    let pay = effective_grants(&config, "pay", "aws-kms", &aws, "cckm_key_rotation").unwrap();
    let mut params = serde_json::json!({"cloud_name": "aws"});
    pay.apply_pinned(&mut params).unwrap();
    assert_eq!(params["aws_param"]["tags"]["team"], "pay");
    assert_eq!(config.accounts["pay"].max_queued_jobs, Some(500));
}
