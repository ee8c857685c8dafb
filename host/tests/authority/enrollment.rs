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
    let mut ctx = EnrollmentCtx::new(false, Some(ca), None, false);
    let err = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), Some("lab"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::NotGranted(m) if m.contains("not granted")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_dry_run_has_no_certificate_issued_even_when_granted() {
    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(LAB, &dir);
    let mut ctx = EnrollmentCtx::new(true, Some(ca), None, true);
    let err = submit(&mut ctx, rcgen_csr("a.test", &["a.test"]), Some("lab"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::NotGranted(m) if m.contains("dry run")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_granted_plugin_gets_a_chain_or_the_authoritys_reason() {
    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(LAB, &dir);
    let mut ctx = EnrollmentCtx::new(true, Some(ca), None, false);
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
    let mut ctx = EnrollmentCtx::new(true, None, None, false);
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
    let mut ctx = EnrollmentCtx::new(true, Some(ca), None, false);
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

/// An account's CSR goes through its issuance policy before the CA sees it: names outside
/// it and authorities without one are refused with the rule; what passes is issued no
/// longer than the policy's validity by the local CA.
#[tokio::test]
async fn an_accounts_csr_is_held_to_its_issuance_policy() {
    use std::collections::BTreeMap;

    use keywarden::tenancy::config::IssuancePolicy;
    use keywarden::tenancy::issuance::AccountIssuance;
    use x509_parser::prelude::FromDer;

    let (_t, dir) = tempdir();
    let ca: Arc<dyn CertificateAuthority> = registry(
        "[authorities.lab]\nkind = \"local\"\nvalidity_days = 365\n",
        &dir,
    );
    let policy: IssuancePolicy = toml::from_str(
        "allowed_domains = [\"a.test\"]\nallow_subdomains = true\nmax_validity_days = 7",
    )
    .unwrap();
    let issuance = AccountIssuance::new("team-a", BTreeMap::from([("lab".to_owned(), policy)]));
    let mut ctx = EnrollmentCtx::new(true, Some(ca), Some(Arc::new(issuance)), false);
    let err = submit(&mut ctx, rcgen_csr("www.b.test", &["www.b.test"]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("issuance policy of account \"team-a\"") && m.contains("www.b.test")),
        "{err:?}"
    );
    let chain = submit(
        &mut ctx,
        rcgen_csr("www.a.test", &["www.a.test"]),
        Some("lab"),
    )
    .await
    .expect("within the policy");
    let (_, leaf) = x509_parser::certificate::X509Certificate::from_der(&chain[0]).unwrap();
    let secs = leaf.validity().not_after.timestamp() - chrono::Utc::now().timestamp();
    assert!(
        (7 * 86_400 - 60..=7 * 86_400).contains(&secs),
        "7 days, not the CA's 365: {secs} s"
    );
    let err = submit(
        &mut ctx,
        rcgen_csr("www.a.test", &["www.a.test"]),
        Some("other"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, EnrollmentError::Rejected(m) if m.contains("may not use certificate authority \"other\"")),
        "{err:?}"
    );
}
