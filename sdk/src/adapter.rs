//! The glue between wit-bindgen's export traits and [`Plugin`]. Not public API: the
//! [`export_plugin!`](crate::export_plugin) macro names it through `__private`.

use std::marker::PhantomData;
use std::sync::Once;

use crate::Plugin;
use crate::certificate_store::{CertificateEntry, Store};
use crate::job::{JobContext, JobError, Outcome};
use crate::wit;
use crate::wit::exports::keywarden::plugin::{
    certificate_store, custom_job, key_management, network_discovery,
};
use crate::wit::keywarden::plugin::types as t;

/// Implements every exported WIT interface for any `P: Plugin`.
pub struct Adapter<P>(PhantomData<P>);

/// Per-instance setup: route panic messages into the job log, so a panicking job
/// leaves a readable line next to the host's "plugin trapped" error.
fn enter() {
    static PANIC_HOOK: Once = Once::new();
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            crate::log::error(format!("plugin panicked: {info}"));
            previous(info);
        }));
    });
}

/// Convert the context, run the job, convert the error.
fn call<T>(
    ctx: t::JobContext,
    job: impl FnOnce(JobContext) -> Result<T, JobError>,
) -> Result<T, t::JobError> {
    enter();
    let ctx = JobContext::from_wit(ctx).map_err(JobError::into_wit)?;
    job(ctx).map_err(JobError::into_wit)
}

fn store(store: certificate_store::Store) -> Result<Store, JobError> {
    Store::from_wit(store)
}

impl<P: Plugin> wit::Guest for Adapter<P> {
    fn describe() -> t::Manifest {
        enter();
        P::describe().into_wit()
    }
}

impl<P: Plugin> custom_job::Guest for Adapter<P> {
    fn run(ctx: t::JobContext) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| P::run_custom(ctx).map(Outcome::into_wit))
    }
}

impl<P: Plugin> key_management::Guest for Adapter<P> {
    fn rotate(ctx: t::JobContext) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| P::rotate_keys(ctx).map(Outcome::into_wit))
    }

    fn synchronize(ctx: t::JobContext) -> Result<key_management::Synchronized, t::JobError> {
        call(ctx, |ctx| P::synchronize_keys(ctx).map(|s| s.into_wit()))
    }
}

impl<P: Plugin> network_discovery::Guest for Adapter<P> {
    fn scan(ctx: t::JobContext) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| P::scan(ctx).map(Outcome::into_wit))
    }
}

impl<P: Plugin> certificate_store::Guest for Adapter<P> {
    fn inventory(
        ctx: t::JobContext,
        s: certificate_store::Store,
    ) -> Result<Vec<certificate_store::CertificateEntry>, t::JobError> {
        call(ctx, |ctx| {
            let entries = P::inventory(ctx, store(s)?)?;
            Ok(entries
                .into_iter()
                .map(CertificateEntry::into_wit)
                .collect())
        })
    }

    fn add(
        ctx: t::JobContext,
        s: certificate_store::Store,
        entry: certificate_store::NewEntry,
    ) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| {
            P::add(ctx, store(s)?, entry.into()).map(Outcome::into_wit)
        })
    }

    fn remove(
        ctx: t::JobContext,
        s: certificate_store::Store,
        alias: String,
    ) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| {
            P::remove(ctx, store(s)?, alias).map(Outcome::into_wit)
        })
    }

    fn create(
        ctx: t::JobContext,
        s: certificate_store::Store,
    ) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| P::create(ctx, store(s)?).map(Outcome::into_wit))
    }

    fn discover(
        ctx: t::JobContext,
        request: certificate_store::DiscoveryRequest,
    ) -> Result<Vec<String>, t::JobError> {
        call(ctx, |ctx| P::discover(ctx, request.into()))
    }

    fn reenroll(
        ctx: t::JobContext,
        s: certificate_store::Store,
        request: certificate_store::ReenrollmentRequest,
    ) -> Result<t::JobOutcome, t::JobError> {
        call(ctx, |ctx| {
            P::reenroll(ctx, store(s)?, request.into()).map(Outcome::into_wit)
        })
    }
}
