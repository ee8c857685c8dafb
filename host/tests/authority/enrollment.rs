//! The `enrollment` import's host side: the grant is checked before any CA sees a CSR.

use std::sync::Arc;

use keywarden::runtime::bindings::enrollment::{EnrollmentError, Host};
use keywarden::runtime::capabilities::enrollment::{CertificateAuthority, EnrollmentCtx};

use crate::support::{rcgen_csr, registry, tempdir};

const LAB: &str = "[authorities.lab]\nkind = \"local\"\n";

#[tokio::test]
async fn a_plugin_without_the_grant_gets_not_granted() {
    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(LAB, &dir);
    let mut ctx = EnrollmentCtx::new(false, Some(ca));
    let err = ctx
        .submit_csr(rcgen_csr("a.test", &["a.test"]), Some("lab".into()))
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
    let chain = ctx
        .submit_csr(rcgen_csr("a.test", &["a.test"]), None)
        .await
        .expect("signed");
    assert_eq!(chain.len(), 2);
    let err = ctx
        .submit_csr(rcgen_csr("a.test", &["a.test"]), Some("nope".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("unknown certificate authority \"nope\"")),
        "{err:?}"
    );
    let err = ctx.submit_csr(b"junk".to_vec(), None).await.unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("not a DER PKCS#10")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_host_without_authorities_answers_unavailable() {
    let mut ctx = EnrollmentCtx::new(true, None);
    let err = ctx
        .submit_csr(rcgen_csr("a.test", &["a.test"]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, EnrollmentError::Unavailable(_)), "{err:?}");
}
