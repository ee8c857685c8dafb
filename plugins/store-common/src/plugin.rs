//! [`StorePlugin`]: the SDK's `Plugin` for any [`StoreFormat`].

use std::marker::PhantomData;

use keywarden_sdk::prelude::*;
use keywarden_sdk::{Plugin, log, progress};

use crate::certs::subject_of;
use crate::csr::{build_csr, parse_sans, parse_subject};
use crate::entry::{Entry, KeyMaterial};
use crate::format::StoreFormat;
use crate::keys::{KeyType, generate_key, key_matches_certificate};
use crate::open::OpenStore;
use crate::{discovery, manifest, ops};

/// A certificate-store plugin for the format `F`; export it with
/// `keywarden_sdk::export_plugin!(StorePlugin<MyFormat>)`.
pub struct StorePlugin<F>(PhantomData<F>);

impl<F: StoreFormat> Plugin for StorePlugin<F> {
    fn describe() -> Manifest {
        manifest::manifest::<F>(
            &format!("{}-store", F::STORE_TYPE.to_ascii_lowercase()),
            env!("CARGO_PKG_VERSION"),
        )
    }

    fn inventory(_ctx: JobContext, store: Store) -> Result<Vec<CertificateEntry>, JobError> {
        let store = OpenStore::open::<F>(&store)?;
        let entries = ops::inventory::<F>(&store)?;
        Ok(entries.iter().map(Entry::to_inventory).collect())
    }

    fn add(ctx: JobContext, store: Store, entry: NewEntry) -> Result<Outcome, JobError> {
        let store = OpenStore::open_for::<F>(&store, ctx.dry_run())?;
        let new = ops::validate_new_entry(&entry)?;
        ops::add::<F>(
            &store,
            new,
            entry.overwrite,
            entry.create_if_missing,
            ctx.dry_run(),
        )
    }

    fn remove(ctx: JobContext, store: Store, alias: String) -> Result<Outcome, JobError> {
        let store = OpenStore::open_for::<F>(&store, ctx.dry_run())?;
        ops::remove::<F>(&store, &alias, ctx.dry_run())
    }

    fn create(ctx: JobContext, store: Store) -> Result<Outcome, JobError> {
        let store = OpenStore::open_for::<F>(&store, ctx.dry_run())?;
        ops::create::<F>(&store, ctx.dry_run())
    }

    fn discover(_ctx: JobContext, request: DiscoveryRequest) -> Result<Vec<String>, JobError> {
        discovery::discover::<F>(&request)
    }

    fn reenroll(
        ctx: JobContext,
        store: Store,
        request: ReenrollmentRequest,
    ) -> Result<Outcome, JobError> {
        let store = OpenStore::open_for::<F>(&store, ctx.dry_run())?;
        reenroll::<F>(&store, &request, ctx.dry_run())
    }
}

/// Reenrollment with the key generated here: check first that the alias may be
/// written (so no certificate is issued for nothing), then key, CSR, the host's CA,
/// and the install under the usual overwrite rules. A `dry_run` stops after the check
/// and says what it would install (no key, no CSR, nothing written).
fn reenroll<F: StoreFormat>(
    store: &OpenStore,
    request: &ReenrollmentRequest,
    dry_run: bool,
) -> Result<Outcome, JobError> {
    if request.alias.trim().is_empty() {
        return Err(JobError::invalid_param(
            "request.alias",
            "the alias is empty",
        ));
    }
    let key_type: KeyType = request
        .key_type
        .parse()
        .map_err(|reason: String| JobError::invalid_param("request.key-type", reason))?;
    let subject = parse_subject(&request.subject)?;
    let sans = parse_sans(&request.sans)?;
    let placeholder = Entry {
        alias: request.alias.trim().to_owned(),
        chain: Vec::new(),
        key: Some(KeyMaterial::Pkcs8(Vec::new())),
        created_ms: None,
    };
    F::check_entry(store, &placeholder)?;
    let placement = ops::place::<F>(store, &request.alias, request.overwrite, true)?;
    if dry_run {
        let verb = if placement.replaced.is_empty() {
            "enroll"
        } else {
            "reenroll"
        };
        return Ok(ops::would(
            format!(
                "would {verb} `{}` ({}) in `{}`",
                request.alias, request.subject, store.path
            ),
            json!({
                "alias": request.alias.trim(),
                "store": store.path,
                "subject": request.subject,
                "sans": request.sans,
                "key_type": request.key_type,
                "replaced": placement.replaced,
                "store_created": !placement.existed,
            }),
        ));
    }
    progress::report(1, 4);
    let key = generate_key(key_type)?;
    log::info_with(
        "generated a key in the sandbox",
        &[("key_type", &request.key_type), ("alias", &request.alias)],
    );
    progress::report(2, 4);
    let csr = build_csr(&key, subject, sans)?;
    let chain = keywarden_sdk::enrollment::submit_csr(&csr, request.authority.as_deref())
        .map_err(|e| JobError::failed(format!("the certificate authority did not issue: {e}")))?;
    progress::report(3, 4);
    let Some(leaf) = chain.first() else {
        return Err(JobError::failed(
            "the certificate authority returned no certificate",
        ));
    };
    if !key_matches_certificate(&key, leaf)? {
        return Err(JobError::failed(
            "the certificate authority returned a certificate for another key",
        ));
    }
    let subject = subject_of(leaf);
    let entry = Entry {
        alias: request.alias.trim().to_owned(),
        chain,
        key: Some(KeyMaterial::Pkcs8(key)),
        created_ms: None,
    };
    let outcome = ops::add::<F>(store, entry, request.overwrite, true, false)?;
    progress::report(4, 4);
    Ok(Outcome {
        message: format!(
            "reenrolled `{}` ({subject}) in `{}`",
            request.alias, store.path
        ),
        ..outcome
    }
    .with_detail("key_type", request.key_type.clone()))
}
