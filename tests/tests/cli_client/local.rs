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
