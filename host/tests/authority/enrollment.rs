//! The `enrollment` import's host side: the grant is checked before any CA sees a CSR;
//! what the plugin should handle is a WIT error, a CA that is down traps as a host fault.

use std::sync::Arc;

use keywarden::runtime::bindings::enrollment::{EnrollmentError, Host};
use keywarden::runtime::capabilities::HostFault;
use keywarden::runtime::capabilities::enrollment::{CertificateAuthority, EnrollmentCtx};

use crate::support::{rcgen_csr, registry, tempdir};

const LAB: &str = "[authorities.lab]\nkind = \"local\"\n";

async fn submit(
    ctx: &mut EnrollmentCtx,
    csr: Vec<u8>,
    authority: Option<&str>,
) -> Result<Vec<Vec<u8>>, EnrollmentError> {
    ctx.submit_csr(csr, authority.map(str::to_owned))
        .await
        .expect("an answer for the plugin, not a trap")
}

#[tokio::test]
async fn a_plugin_without_the_grant_gets_not_granted() {
    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(LAB, &dir);
    let mut ctx = EnrollmentCtx::new(false, Some(ca));
    let err = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), Some("lab"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::NotGranted(m) if m.contains("not granted")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_granted_plugin_gets_a_chain_or_the_authoritys_reason() {
    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(LAB, &dir);
    let mut ctx = EnrollmentCtx::new(true, Some(ca));
    let chain = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), None)
        .await
        .expect("signed");
    assert_eq!(chain.len(), 2);
    let err = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), Some("nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("unknown certificate authority \"nope\"")),
        "{err:?}"
    );
    let err = submit(&mut ctx, b"junk".to_vec(), None).await.unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("not a DER PKCS#10")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_host_without_authorities_answers_unavailable() {
    let mut ctx = EnrollmentCtx::new(true, None);
    let err = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, EnrollmentError::Unavailable(_)), "{err:?}");
}

/// An ACME CA nobody answers for is the host's failure: the import traps with a
/// `HostFault` (the job then ends as a host failure and is retried) instead of telling the
/// plugin its CSR was rejected.
#[tokio::test]
async fn an_authority_that_is_down_traps_as_a_host_fault() {
    let (_t, dir) = tempdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = format!(
        "[authorities.down]\nkind = \"acme\"\ndirectory = \"https://127.0.0.1:{port}/dir\"\ntimeout_secs = 5\n"
    );
    let ca: Arc<dyn CertificateAuthority> = registry(&toml, &dir);
    let mut ctx = EnrollmentCtx::new(true, Some(ca));
    let trap = ctx
        .submit_csr(rcgen_csr("a.test", &["a.test"]), None)
        .await
        .expect_err("a trap, not an answer");
    let fault = trap
        .downcast_ref::<HostFault>()
        .unwrap_or_else(|| panic!("a HostFault, got {trap:#}"));
    assert_eq!(fault.capability, "enrollment");
    assert!(
        fault
            .message
            .contains("the certificate authority is unavailable")
            && fault.message.contains("\"down\""),
        "{fault}"
    );
}
