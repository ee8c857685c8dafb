//! `serve` opens the configured authorities at startup, and refuses to start on a bad one.

use std::time::{Duration, Instant};

use keywarden::operator_config::OperatorConfig;
use keywarden::server::ServeOptions;

use crate::support::tempdir;

fn options(toml: &str, dir: &std::path::Path) -> ServeOptions {
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    let mut options = ServeOptions::new(dir.join("data"), dir.join("plugins"));
    options.config = toml::from_str::<OperatorConfig>(toml).unwrap();
    options
}

#[tokio::test]
async fn serve_opens_the_configured_authorities_at_startup() {
    let (_t, dir) = tempdir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(keywarden::serve(
        listener,
        options("[authorities.lab]\nkind = \"local\"\n", &dir),
        async {
            let _ = stopped.await;
        },
    ));
    let root = dir.join("data/authorities/lab/ca-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !root.exists() {
        assert!(!server.is_finished(), "serve ended: {:?}", server.await);
        assert!(Instant::now() < deadline, "no lab root was generated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    server.await.unwrap().expect("serve stops cleanly");
}

#[tokio::test]
async fn serve_refuses_to_start_with_an_unknown_default_authority() {
    let (_t, dir) = tempdir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = keywarden::serve(
        listener,
        options(
            "default_authority = \"lba\"\n[authorities.lab]\nkind = \"local\"\n",
            &dir,
        ),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}")
            .contains("default_authority \"lba\" is not among the configured authorities"),
        "{err:#}"
    );
}
