//! Inventories of stores made by `openssl` landing in the inventory endpoint.

use std::process::Command;

use keywarden_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn inventories_land_in_the_inventory_endpoint(s: &TestServer, fx: &Fixtures) {
    let t = s.admin.as_str();
    let pem = create_store(s, t, pem_store("/stores/web.pem")).await;
    let p12 = create_store(
        s,
        t,
        json!({"ClientMachine": "web01", "Storepath": "/stores/web.p12", "CertStoreType": "PKCS12",
               "Password": {"SecretName": "p12_password"}}),
    )
    .await;
    let leaf_thumbprint = {
        let out = Command::new("openssl")
            .args(["x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha1"])
            .current_dir(fx.dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().replace(':', "")
    };
    for (store, alias) in [(&pem, None), (&p12, Some("web"))] {
        let id = store["Id"].as_str().unwrap();
        let job = inventory_now(s, t, id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert_eq!(job["result"], "success", "{job}");
        let (status, entries, total) = s.get_counted(t, &format!("{STORES}/{id}/Inventory")).await;
        assert_eq!(status, StatusCode::OK, "{entries}");
        assert_eq!(total, Some(1), "{entries}");
        let e = &entries[0];
        if let Some(alias) = alias {
            assert_eq!(e["Alias"], alias, "{e}");
        }
        assert_eq!(e["Thumbprint"], leaf_thumbprint.as_str(), "{e}");
        let subject = e["IssuedDN"].as_str().unwrap();
        assert!(
            subject.contains("CN=web.example.com") && subject.contains("O=Example Inc"),
            "{e}"
        );
        assert!(
            e["IssuerDN"]
                .as_str()
                .unwrap()
                .contains("CN=Keywarden Test Root CA"),
            "{e}"
        );
        assert_eq!(
            e["SANs"],
            json!({"dns": ["web.example.com", "www.example.com"], "ip4": ["10.0.0.5"]}),
            "{e}"
        );
        assert_eq!(e["HasPrivateKey"], true, "{e}");
        assert_eq!(e["ChainLength"], 2, "{e}");
        assert_eq!(e["JobId"], job["id"], "{e}");
        let not_after =
            chrono::DateTime::parse_from_rfc3339(e["NotAfter"].as_str().unwrap()).unwrap();
        let days = (not_after.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
        assert!((19..=20).contains(&days), "leaf valid for 20 days: {e}");

        // Expiring filter.
        let (_, _, soon) = s
            .get_counted(t, &format!("{STORES}/{id}/Inventory?ExpiringWithinDays=30"))
            .await;
        assert_eq!(soon, Some(1));
        let (_, _, later) = s
            .get_counted(t, &format!("{STORES}/{id}/Inventory?ExpiringWithinDays=10"))
            .await;
        assert_eq!(later, Some(0));
    }
    let (_, all, total) = s
        .get_counted(
            t,
            &format!("{STORES}/Inventory?ExpiringWithinDays=30&SortField=Alias"),
        )
        .await;
    assert_eq!(total, Some(2), "{all}");
    let (status, err) = s
        .get(t, &format!("{STORES}/Inventory?ExpiringWithinDays=soon"))
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "ExpiringWithinDays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventories_of_openssl_made_stores() {
    on_each_backend(inventories_land_in_the_inventory_endpoint).await;
}
