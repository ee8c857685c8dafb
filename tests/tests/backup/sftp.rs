//! `do_scp`: the backup goes to a real OpenSSH `sshd` over SFTP, byte for byte; a server
//! showing another host key than the configured one gets nothing (the job fails naming
//! the mismatch) and the user's private key never shows.

use keywarden_tests::server::TestServer;
use keywarden_tests::sshd::{Sshd, ssh_keygen};
use serde_json::json;

use crate::support::{age_keygen, backup, config, file_contains, file_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_to_the_configured_server_only() {
    let sshd = tokio::task::spawn_blocking(Sshd::start).await.unwrap();
    let impostor = ssh_keygen(&sshd.dir.path().join("other_host_key"));
    let key = age_keygen();
    let connection = |name: &str, host_key: &str| {
        format!(
            "[backup.connections.{name}]\nhost = \"127.0.0.1\"\nport = {}\nuser = {:?}\n\
             key_secret = \"ssh_key\"\nremote_dir = {:?}\nhost_key = {host_key:?}\n",
            sshd.port,
            sshd.user,
            sshd.remote_dir.display().to_string()
        )
    };
    let extra = format!(
        "ssh_key = {{ file = {:?} }}\n{}{}",
        sshd.user_key.display().to_string(),
        connection("lab", &sshd.host_key),
        connection("impostor", &impostor)
    );
    let s = TestServer::sqlite_with(config(&key, &extra)).await;
    let private = std::fs::read_to_string(&sshd.user_key).unwrap();
    let private_line = private.lines().nth(1).unwrap().to_owned();

    let job = backup(
        &s,
        json!({"backupKey": "backup_key", "do_scp": true, "connection": "lab"}),
    )
    .await;
    let local = file_of(&job);
    let uploaded = &job["details"]["details"]["uploaded"];
    assert_eq!(uploaded["connection"], "lab", "{job}");
    let remote = sshd.remote_dir.join(local.file_name().unwrap());
    assert_eq!(uploaded["path"], remote.display().to_string(), "{job}");
    assert_eq!(
        std::fs::read(&remote).unwrap(),
        std::fs::read(&local).unwrap(),
        "the uploaded file is the backup, byte for byte"
    );
    let names: Vec<_> = std::fs::read_dir(&sshd.remote_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no .partial left: {names:?}");
    assert!(
        sshd.log().contains("Accepted publickey"),
        "sshd saw the key: {}",
        sshd.log()
    );

    // Another host key: refused before authenticating, nothing uploaded.
    let job = backup(
        &s,
        json!({"backupKey": "backup_key", "do_scp": true, "connection": "impostor"}),
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    let message = job["details"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = if message.is_empty() {
        job["message"].as_str().unwrap_or_default().to_owned()
    } else {
        message
    };
    assert!(
        message.contains("host key") && message.contains("not the configured one"),
        "{job}"
    );
    assert_eq!(std::fs::read_dir(&sshd.remote_dir).unwrap().count(), 1);

    // The private key is in no response and not in the database.
    let (_, jobs) = s
        .get(
            &s.admin,
            "/api/v1/scheduler/jobs?limit=100&include=params,logs",
        )
        .await;
    assert!(!jobs.to_string().contains(&private_line));
    let db = std::path::Path::new(s.database_url());
    for file in [db.to_path_buf(), db.with_extension("db-wal")] {
        assert!(!file_contains(&file, &private_line));
    }
    s.stop().await;
}
