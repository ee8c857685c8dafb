//! What needs no server: shell completions.

async fn keywarden(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(keywarden_tests::keywarden_binary())
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("keywarden runs")
}

#[tokio::test]
async fn completions_are_scripts_the_shells_accept() {
    let out = keywarden(&["completions", "bash"]).await;
    assert!(out.status.success(), "{out:?}");
    let bash = String::from_utf8(out.stdout).unwrap();
    assert!(
        bash.contains("keywarden__subcmd__jobs__subcmd__run"),
        "{bash}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keywarden.bash");
    std::fs::write(&file, &bash).unwrap();
    let check = tokio::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = keywarden(&["completions", shell]).await;
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "{shell}: {out:?}"
        );
    }
}

/// `--data-dir` keeps `tokens create` local (the recovery path): a token from the
/// database, no server asked.
#[tokio::test]
async fn tokens_create_with_a_data_dir_writes_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = keywarden(&[
        "tokens",
        "create",
        "--account",
        "admin",
        "--role",
        "admin",
        "--label",
        "recovery",
        "--server",
        "http://127.0.0.1:9",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .starts_with("kw_"),
        "{out:?}"
    );
    assert!(dir.path().join("keywarden.db").exists());
}
