//! Certificate stores and their jobs: the store records, the inventory schedule each store
//! owns (one job config), and the Management, Reenrollment and Discovery jobs queued for
//! them.
//!
//! The rules, checked here for every dialect:
//! - a store's path lies inside a directory granted to the plugin serving its type, else
//!   no job could ever open it;
//! - its password is a *secret name* configured on the server and granted to that plugin;
//!   secret values are never stored (a `SecretValue` anywhere in its properties is refused);
//! - its properties satisfy the `$defs.storeProperties` schema the plugin publishes, if any;
//! - jobs run only on approved stores whose type a loaded plugin serves for the operation,
//!   on the node or agent the store names (or any).
//!
//! Jobs carry only the store id (and what the request asked for) in their params; the
//! executor loads the store record from the job's own account when the job runs.

use chrono::{DateTime, Utc};
use keywarden_db::{
    Agent, CertificateStore, CertificateStoreFilter, DiscoveredFilter, DiscoveredPath,
    InventoryEntry, InventoryFilter, Recurrence, RunOn, Sort, Total,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::configs::{ConfigSpec, ScheduleSpec};
use super::jobs::JobSpec;
use super::schedule::recurrence_fires;
use super::{Caller, DomainError, DomainResult, Field, Service};
use crate::certificates::canonical_store_type;
use crate::certificates::job_params::{
    Discovery, Management, Reenrollment, StoreJobParams, operation,
};
use crate::plugins::{Family, LoadedPlugin};

/// What a store record is made of that its writer chooses.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSpec {
    pub client_machine: String,
    pub store_path: String,
    /// A store type name (any case).
    pub store_type: String,
    pub container_id: Option<i64>,
    pub approved: bool,
    pub create_if_missing: bool,
    /// A JSON object.
    pub properties: Value,
    pub agent_id: Option<String>,
    /// The name of the secret holding the password.
    pub password_secret: Option<String>,
}

/// A certificate to put into stores, or one to take out.
#[derive(Debug, Clone, PartialEq)]
pub enum ManagementAction {
    Add {
        /// PEM certificates, leaf first.
        certificate: String,
        /// The secret holding its PKCS#8 PEM private key.
        private_key_secret: Option<String>,
    },
    Remove,
}

/// One store of a management request.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagementTarget {
    pub store_id: Uuid,
    pub alias: String,
    pub overwrite: bool,
    /// Store-type specific job fields (the plugin's params).
    pub job_properties: Map<String, Value>,
}

/// A discovery request: which store type on which machine, where to look.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoverySpec {
    pub discovery: Discovery,
    pub agent: Option<String>,
}

impl Service {
    /// A store of the caller's account (any account for admins).
    pub async fn certificate_store(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> DomainResult<CertificateStore> {
        self.db
            .get_certificate_store(caller.scope(), id)
            .await?
            .ok_or_else(|| DomainError::not_found(format!("no certificate store with id {id}")))
    }

    /// A page of the caller's stores matching `filter`.
    pub async fn certificate_stores(
        &self,
        caller: &Caller,
        mut filter: CertificateStoreFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<CertificateStore>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        Ok(self
            .db
            .list_certificate_stores(&filter, sort, skip, limit)
            .await?)
    }

    /// The recurrence a store's inventory config was made from, to show it back.
    pub async fn inventory_schedule(
        &self,
        store: &CertificateStore,
    ) -> DomainResult<Option<Recurrence>> {
        let Some(id) = store.inventory_config_id else {
            return Ok(None);
        };
        Ok(self
            .db
            .get_config(Some(&store.account_id), id)
            .await?
            .and_then(|c| c.recurrence))
    }

    /// Store types some loaded plugin serves, upper case, sorted.
    pub fn store_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .registry
            .plugins()
            .iter()
            .flat_map(|p| p.manifest.operations.iter())
            .filter(|o| o.family == Family::CertificateStore)
            .filter_map(|o| o.target.as_deref().map(canonical_store_type))
            .collect();
        types.sort();
        types.dedup();
        types
    }

    /// The plugin serving the certificate-store operation `op` for `store_type`.
    pub fn store_plugin(&self, op: &str, store_type: &str) -> Option<std::sync::Arc<LoadedPlugin>> {
        self.registry
            .resolve(op, Some(store_type))
            .ok()
            .filter(|(_, o)| {
                o.family == Family::CertificateStore
                    && o.target
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(store_type))
            })
            .map(|(plugin, _)| plugin)
    }

    /// Creates a store in the caller's account, with an inventory schedule when given
    /// (`Some(None)` is no schedule).
    pub async fn create_certificate_store(
        &self,
        caller: &Caller,
        spec: StoreSpec,
        inventory: Option<Option<Recurrence>>,
    ) -> DomainResult<CertificateStore> {
        let mut store = CertificateStore::new(&caller.account, "", "", "", Utc::now());
        self.apply_store_spec(&mut store, spec).await?;
        if let Some(Some(_)) = &inventory {
            self.check_schedulable(&store, Field::Schedule).await?;
        }
        let stored = self.db.insert_certificate_store(&store).await?;
        match inventory {
            Some(schedule) => self.set_inventory(&stored, schedule).await,
            None => Ok(stored),
        }
    }

    /// Replaces a store of the caller's. Its inventory schedule is replaced when given,
    /// else kept (its jobs follow the store's new agent and type).
    pub async fn replace_certificate_store(
        &self,
        caller: &Caller,
        id: Uuid,
        spec: StoreSpec,
        inventory: Option<Option<Recurrence>>,
    ) -> DomainResult<CertificateStore> {
        let before = self.certificate_store(caller, id).await?;
        let mut store = before.clone();
        self.apply_store_spec(&mut store, spec).await?;
        if let Some(Some(_)) = &inventory {
            self.check_schedulable(&store, Field::Schedule).await?;
        }
        let stored = self.db.update_certificate_store(&store).await?;
        let schedule = match inventory {
            Some(s) => Some(s),
            None if before.agent_id != stored.agent_id
                || before.store_type != stored.store_type =>
            {
                match self.inventory_schedule(&stored).await? {
                    Some(Recurrence::Immediate) | None => None,
                    Some(r) => Some(Some(r)),
                }
            }
            None => None,
        };
        match schedule {
            Some(schedule) => self.set_inventory(&stored, schedule).await,
            None => Ok(stored),
        }
    }

    /// Deletes a store of the caller's with its inventory and inventory schedule; past
    /// jobs stay.
    pub async fn delete_certificate_store(&self, caller: &Caller, id: Uuid) -> DomainResult<()> {
        if self.db.delete_certificate_store(caller.scope(), id).await? {
            Ok(())
        } else {
            Err(DomainError::not_found(format!(
                "no certificate store with id {id}"
            )))
        }
    }

    /// Sets the inventory schedule of every listed store (`None`: off). Every store is
    /// checked before any changes.
    pub async fn schedule_inventory(
        &self,
        caller: &Caller,
        ids: &[Uuid],
        schedule: Option<Recurrence>,
    ) -> DomainResult<()> {
        let mut stores = Vec::with_capacity(ids.len());
        // A store named twice is scheduled once.
        let mut seen = std::collections::HashSet::new();
        for (i, id) in ids.iter().enumerate() {
            if !seen.insert(*id) {
                continue;
            }
            let store = self
                .certificate_store(caller, *id)
                .await
                .map_err(|e| at_store(e, i))?;
            if schedule.is_some() {
                // The store exists: what refuses the schedule is its state.
                self.check_schedulable(&store, Field::Store.in_item(i))
                    .await
                    .map_err(as_conflict)?;
            }
            stores.push(store);
        }
        if matches!(schedule, Some(Recurrence::Immediate)) {
            // Each store gets a job now: they count against the account's queue.
            self.check_queue_quota(&caller.account, stores.len())
                .await?;
        }
        for store in &stores {
            self.set_inventory(store, schedule.clone()).await?;
        }
        Ok(())
    }

    /// Queues a Management job per target (all checked first, then queued together), due
    /// now or once at `schedule`'s instant; returns the job ids.
    pub async fn manage_certificates(
        &self,
        caller: &Caller,
        action: ManagementAction,
        targets: Vec<ManagementTarget>,
        schedule: Option<Recurrence>,
    ) -> DomainResult<Vec<Uuid>> {
        let (due, kind) = self.one_off(schedule, "management")?;
        // One job per store and alias however often a request repeats the pair, and a
        // bounded number of them: a request within the body limit cannot fan out into
        // thousands of jobs (each carrying the certificate).
        let mut seen = std::collections::HashSet::new();
        let targets: Vec<ManagementTarget> = targets
            .into_iter()
            .filter(|t| seen.insert((t.store_id, t.alias.clone())))
            .collect();
        if targets.len() > MAX_MANAGEMENT_TARGETS {
            return Err(DomainError::invalid(
                Field::Selection,
                format!(
                    "at most {MAX_MANAGEMENT_TARGETS} different stores and aliases per request, got {}",
                    targets.len()
                ),
            ));
        }
        // The certificate is stored once; each job names it by hash.
        let certificate_sha256 = match &action {
            ManagementAction::Add { certificate, .. } => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(certificate.as_bytes()))
            }
            ManagementAction::Remove => String::new(),
        };
        let mut jobs = Vec::with_capacity(targets.len());
        for (i, target) in targets.into_iter().enumerate() {
            let store = self
                .certificate_store(caller, target.store_id)
                .await
                .map_err(|e| at_store(e, i))?;
            let plugin = self
                .usable_store(&store, operation::MANAGEMENT)
                .await
                .map_err(|e| e.in_item(i))?;
            let management = match &action {
                ManagementAction::Remove => Management::Remove {
                    alias: target.alias,
                },
                ManagementAction::Add {
                    private_key_secret, ..
                } => {
                    if let Some(name) = private_key_secret {
                        // What refuses it is the listed store's state (its type's plugin
                        // is not granted the secret): a conflict.
                        self.check_store_secret(
                            &caller.account,
                            Some(&plugin),
                            operation::MANAGEMENT,
                            name,
                            Field::KeySecret,
                            |why| DomainError::conflict(Field::KeySecret, why),
                        )?;
                    }
                    Management::Add {
                        alias: target.alias,
                        certificate: None,
                        certificate_sha256: Some(certificate_sha256.clone()),
                        private_key_secret: private_key_secret.clone(),
                        overwrite: target.overwrite,
                    }
                }
            };
            let params = StoreJobParams {
                certificate_store_id: Some(store.id.to_string()),
                management: Some(management),
                job_properties: target.job_properties,
                ..Default::default()
            };
            let mut job = store_job(&store, operation::MANAGEMENT, &params, due);
            job.schedule_kind = kind;
            jobs.push(job);
        }
        // Checked once the stores are known to exist: a missing store is the first thing
        // to hear about.
        if let ManagementAction::Add { certificate, .. } = &action {
            crate::certificates::parse::certificate_chain(certificate)
                .map_err(|e| DomainError::invalid(Field::Certificate, e))?;
            self.db
                .put_payload(&caller.account, &certificate_sha256, certificate)
                .await?;
        }
        self.enqueue(&caller.account, jobs).await
    }

    /// Queues a Reenrollment job for a store of the caller's. `agent` must be the store's
    /// agent when it has one.
    pub async fn reenroll(
        &self,
        caller: &Caller,
        store_id: Uuid,
        agent: &str,
        reenrollment: Reenrollment,
        job_properties: Map<String, Value>,
    ) -> DomainResult<Uuid> {
        let store = self
            .certificate_store(caller, store_id)
            .await
            .map_err(|e| match e {
                DomainError::NotFound { reason, .. } => {
                    DomainError::not_found_at(Field::Store, reason)
                }
                other => other,
            })?;
        if store.agent_id.as_deref().is_some_and(|a| a != agent) {
            return Err(DomainError::conflict(
                Field::RunOn,
                format!(
                    "{agent:?} is not the agent of store {store_id} ({})",
                    store.agent_id.as_deref().unwrap_or_default()
                ),
            ));
        }
        self.usable_store(&store, operation::REENROLLMENT).await?;
        // The names asked for, within the account's issuance policy, before anything is
        // queued (the CSR is checked again when it is made, on a node or an agent).
        let (subject, sans) = requested_names(&reenrollment);
        let authority = reenrollment.authority.as_deref();
        self.check_issuance(&caller.account, authority, &subject, Field::Subject)?;
        self.check_issuance(&caller.account, authority, &sans, Field::Sans)?;
        let params = StoreJobParams {
            certificate_store_id: Some(store.id.to_string()),
            reenrollment: Some(reenrollment),
            job_properties,
            ..Default::default()
        };
        let job = store_job(&store, operation::REENROLLMENT, &params, Utc::now());
        let ids = self.enqueue(&caller.account, vec![job]).await?;
        tracing::info!(job = %ids[0], store = %store.id, "reenrollment queued");
        Ok(ids[0])
    }

    /// Queues a Discovery job for a store type on a machine, due now or once at
    /// `schedule`'s instant.
    pub async fn discover(
        &self,
        caller: &Caller,
        spec: DiscoverySpec,
        schedule: Option<Recurrence>,
    ) -> DomainResult<Uuid> {
        let (due, kind) = self.one_off(schedule, "discovery")?;
        let store_type = canonical_store_type(&spec.discovery.store_type);
        if self
            .store_plugin(operation::DISCOVERY, &store_type)
            .is_none()
        {
            return Err(DomainError::unprocessable(
                Field::StoreType,
                format!("no loaded plugin provides Discovery for store type {store_type}"),
            ));
        }
        let run_on = RunOn::from_option(spec.agent.as_deref());
        self.check_run_on(&run_on, &caller.account).await?;
        if run_on.node().is_none_or(|n| n == self.node_id)
            && let Some(plugin) = self.store_plugin(operation::DISCOVERY, &store_type)
        {
            // On this server the search runs with the account's directories only.
            self.account_grants(&caller.account, &plugin, operation::DISCOVERY)?;
            for dir in &spec.discovery.directories {
                self.check_account_path(
                    &caller.account,
                    &plugin,
                    operation::DISCOVERY,
                    dir,
                    Field::Directories,
                )?;
            }
        }
        let name = format!(
            "Discovery {store_type} on {}",
            spec.discovery.client_machine
        );
        let params = StoreJobParams {
            discovery: Some(Discovery {
                store_type: store_type.clone(),
                ..spec.discovery
            }),
            ..Default::default()
        };
        let mut job = JobSpec::new(
            operation::DISCOVERY,
            params.to_value(),
            Some(store_type),
            due,
        );
        job.name = name;
        job.run_on = run_on;
        job.schedule_kind = kind;
        let ids = self.enqueue(&caller.account, vec![job]).await?;
        Ok(ids[0])
    }

    /// A page of inventory entries of the caller's stores (of one store when `store` is
    /// given; 404 if it is not the caller's).
    pub async fn inventory(
        &self,
        caller: &Caller,
        store: Option<Uuid>,
        mut filter: InventoryFilter,
        sort: &Sort,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(Total, Vec<InventoryEntry>)> {
        if let Some(id) = store {
            self.certificate_store(caller, id).await?;
        }
        filter.account_id = caller.scope().map(str::to_owned);
        filter.store_id = store;
        filter.count_bound = Some(super::LIST_COUNT_BOUND);
        let (counted, entries) = self.db.list_inventory(&filter, sort, skip, limit).await?;
        Ok((Total::of(counted, filter.count_bound), entries))
    }

    /// A page of the store files the caller's discovery jobs found.
    pub async fn discovered_paths(
        &self,
        caller: &Caller,
        mut filter: DiscoveredFilter,
        skip: i64,
        limit: i64,
    ) -> DomainResult<(i64, Vec<DiscoveredPath>)> {
        filter.account_id = caller.scope().map(str::to_owned);
        filter.store_type = filter.store_type.map(|t| canonical_store_type(&t));
        Ok(self.db.list_discovered_paths(&filter, skip, limit).await?)
    }

    /// Checks `spec` and writes it into `store`.
    async fn apply_store_spec(
        &self,
        store: &mut CertificateStore,
        spec: StoreSpec,
    ) -> DomainResult<()> {
        let store_type = canonical_store_type(&spec.store_type);
        if !self.store_types().contains(&store_type) {
            let served = self.store_types();
            return Err(DomainError::unprocessable(
                Field::StoreType,
                format!(
                    "no loaded plugin serves store type {store_type}; available store types: {}",
                    if served.is_empty() {
                        "none (no loaded plugin serves certificate stores)".to_owned()
                    } else {
                        served.join(", ")
                    }
                ),
            ));
        }
        store.client_machine = spec.client_machine;
        store.store_path = spec.store_path;
        store.store_type = store_type;
        store.container_id = spec.container_id;
        store.approved = spec.approved;
        store.create_if_missing = spec.create_if_missing;
        store.properties = spec.properties;
        store.agent_id = spec.agent_id;
        store.password_secret = spec.password_secret;
        // A store on an agent's machine names a secret of the agent's config, resolved
        // there; a node's store names one of the server's.
        match self.bound_agent(store).await? {
            Some(agent) => {
                check_agent_store(store, &agent)?;
                // The form jobs carry as run_on and the agent's sessions claim by.
                store.agent_id = Some(agent.id.to_string());
            }
            None => {
                self.check_password(store)?;
                self.check_run_on(
                    &RunOn::from_option(store.agent_id.as_deref()),
                    &store.account_id,
                )
                .await?;
                self.check_path(store)?;
            }
        }
        self.check_properties(store)
    }

    /// The registered agent the store's `AgentId` names in its account, if it names one:
    /// its jobs then go to that agent instead of a node.
    ///
    /// Without an `AgentId`, the one approved agent of the account on the store's
    /// `ClientMachine` (if there is exactly one) is the store's agent.
    async fn bound_agent(&self, store: &CertificateStore) -> DomainResult<Option<Agent>> {
        let Some(named) = store.agent_id.as_deref() else {
            let mut on_machine: Vec<Agent> = self
                .db
                .find_agents_by_machine(&store.account_id, &store.client_machine)
                .await?
                .into_iter()
                .filter(|a| a.status == keywarden_db::AgentStatus::Approved)
                .collect();
            return Ok((on_machine.len() == 1).then(|| on_machine.remove(0)));
        };
        let Ok(id) = Uuid::parse_str(named.trim()) else {
            return Ok(None);
        };
        Ok(self.db.get_agent(Some(&store.account_id), id).await?)
    }

    fn secret_configured(&self, name: &str) -> bool {
        self.registry.runtime().config().secrets.contains_key(name)
    }

    /// The password secret is configured and granted to the plugin serving the type.
    fn check_password(&self, store: &CertificateStore) -> DomainResult<()> {
        let Some(name) = &store.password_secret else {
            return Ok(());
        };
        let plugin = self.store_plugin(operation::INVENTORY, &store.store_type);
        self.check_store_secret(
            &store.account_id,
            plugin.as_deref(),
            operation::INVENTORY,
            name,
            Field::PasswordSecret,
            |why| DomainError::unprocessable(Field::PasswordSecret, why),
        )
    }

    /// `name` is a secret `account`'s `operation` jobs may hand `plugin` (`None`: no
    /// plugin serves the store type). The account's grant first: a team learns nothing of
    /// secrets that are not its own, not even whether they exist (one 403 naming its
    /// table). Then, for an account that may know: configured on the server (422) and
    /// granted to the plugin (`not_granted`).
    fn check_store_secret(
        &self,
        account: &str,
        plugin: Option<&LoadedPlugin>,
        operation: &str,
        name: &str,
        field: Field,
        not_granted: impl FnOnce(String) -> DomainError,
    ) -> DomainResult<()> {
        match plugin {
            Some(plugin) => {
                self.check_account_secret(account, plugin, operation, name, field.clone())?
            }
            // No plugin to ask: the secret must be in one of the account's grants.
            None => self.check_account_secret_anywhere(account, name, field.clone())?,
        }
        if !self.secret_configured(name) {
            return Err(DomainError::unprocessable(
                field,
                format!("no secret named {name:?} is configured on the server"),
            ));
        }
        match plugin {
            Some(plugin) if !plugin.grants.secrets.contains(name) => Err(not_granted(format!(
                "secret {name:?} is not granted to plugin {}",
                plugin.name
            ))),
            _ => Ok(()),
        }
    }

    /// The path lies in a directory granted to the plugin serving the type.
    fn check_path(&self, store: &CertificateStore) -> DomainResult<()> {
        let Some(plugin) = self.store_plugin(operation::INVENTORY, &store.store_type) else {
            return Ok(());
        };
        let path = std::path::Path::new(&store.store_path);
        if !path.is_absolute() || store.store_path.split('/').any(|part| part == "..") {
            return Err(DomainError::unprocessable(
                Field::StorePath,
                "must be an absolute path without '..' components",
            ));
        }
        // The account's directories first: a team is told its own directories, never the
        // plugin's (which hold other teams' sub-directories).
        self.check_account_path(
            &store.account_id,
            &plugin,
            operation::INVENTORY,
            &store.store_path,
            Field::StorePath,
        )?;
        let granted: Vec<&str> = plugin
            .grants
            .dirs
            .iter()
            .map(|d| d.guest.as_str())
            .collect();
        if granted.iter().any(|dir| path.starts_with(dir)) {
            return Ok(());
        }
        Err(DomainError::unprocessable(
            Field::StorePath,
            format!(
                "{} is outside the directories granted to plugin {} ({})",
                store.store_path,
                plugin.name,
                if granted.is_empty() {
                    "none".to_owned()
                } else {
                    granted.join(", ")
                }
            ),
        ))
    }

    /// Properties are an object without secret values, valid against the schema the
    /// plugin publishes as `$defs.storeProperties` in its Inventory params schema.
    fn check_properties(&self, store: &CertificateStore) -> DomainResult<()> {
        if !store.properties.is_object() {
            return Err(DomainError::invalid(
                Field::Properties(Vec::new()),
                "must be a JSON object",
            ));
        }
        if let Some(path) = secret_value_path(&store.properties, &mut Vec::new()) {
            return Err(DomainError::unprocessable(
                Field::Properties(path),
                "secret values are not stored; configure a named secret on the server and \
                 give its name instead",
            ));
        }
        // Store properties are flat, as Keyfactor's store-type properties are.
        if let Some((key, _)) = store
            .properties
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| v.is_object() || v.is_array()))
        {
            return Err(DomainError::unprocessable(
                Field::Properties(vec![key.clone()]),
                "store properties are single values (text, numbers, true or false)",
            ));
        }
        let Ok((_, op)) = self
            .registry
            .resolve(operation::INVENTORY, Some(&store.store_type))
        else {
            return Ok(());
        };
        match op.params_schema.pointer("/$defs/storeProperties") {
            Some(schema) => {
                super::configs::check_schema(schema, &store.properties, Field::Properties)
            }
            None => Ok(()),
        }
    }

    /// 422 unless the store is approved and its type's plugin provides Inventory.
    async fn check_schedulable(&self, store: &CertificateStore, field: Field) -> DomainResult<()> {
        if !store.approved {
            return Err(DomainError::unprocessable(
                field,
                format!("certificate store {} is not approved", store.id),
            ));
        }
        let Some(plugin) = self.store_plugin(operation::INVENTORY, &store.store_type) else {
            return Err(DomainError::unprocessable(
                field,
                format!(
                    "no loaded plugin provides Inventory for store type {} (store {})",
                    store.store_type, store.id
                ),
            ));
        };
        if !self.runs_on_agent(store).await? {
            self.account_grants(&store.account_id, &plugin, operation::INVENTORY)?;
        }
        Ok(())
    }

    /// The plugin for `op` on an approved store, or 409 naming the store (its state
    /// refuses the request).
    async fn usable_store(
        &self,
        store: &CertificateStore,
        op: &str,
    ) -> DomainResult<std::sync::Arc<LoadedPlugin>> {
        if !store.approved {
            return Err(DomainError::conflict(
                Field::Store,
                format!("certificate store {} is not approved", store.id),
            ));
        }
        let plugin = self.store_plugin(op, &store.store_type).ok_or_else(|| {
            DomainError::conflict(
                Field::Store,
                format!(
                    "no loaded plugin provides {op} for store type {}",
                    store.store_type
                ),
            )
        })?;
        if !self.runs_on_agent(store).await? {
            self.account_grants(&store.account_id, &plugin, op)?;
        }
        Ok(plugin)
    }

    /// Whether the store's jobs run on a registered agent of its account (whose machine's
    /// own grants apply there) rather than on a node of this server.
    async fn runs_on_agent(&self, store: &CertificateStore) -> DomainResult<bool> {
        let Some(id) = store
            .agent_id
            .as_deref()
            .and_then(|a| Uuid::parse_str(a.trim()).ok())
        else {
            return Ok(false);
        };
        Ok(self
            .db
            .get_agent(Some(&store.account_id), id)
            .await?
            .is_some())
    }

    /// When a one-off job (Management, Discovery) is due and under which schedule kind:
    /// immediately (none), or once at an instant (an instant already past is now).
    fn one_off(
        &self,
        schedule: Option<Recurrence>,
        what: &str,
    ) -> DomainResult<(DateTime<Utc>, Option<keywarden_db::ScheduleKind>)> {
        let now = Utc::now();
        match schedule {
            None | Some(Recurrence::Immediate) => Ok((now, None)),
            Some(r @ Recurrence::Once { at }) => Ok((at.max(now), r.kind())),
            Some(_) => Err(DomainError::unprocessable(
                Field::Schedule,
                format!("{what} jobs run once: give Immediate or ExactlyOnce"),
            )),
        }
    }

    /// Replaces the inventory schedule of `store` (`None`: off) and, when it asks for a
    /// run now, queues it; returns the store as stored.
    async fn set_inventory(
        &self,
        store: &CertificateStore,
        schedule: Option<Recurrence>,
    ) -> DomainResult<CertificateStore> {
        let now = Utc::now();
        let Some(recurrence) = schedule else {
            return Ok(self
                .db
                .set_inventory_schedule(&store.account_id, store.id, None, &[])
                .await?);
        };
        self.check_schedulable(store, Field::Schedule).await?;
        let existing = match store.inventory_config_id {
            Some(id) => self.db.get_config(Some(&store.account_id), id).await?,
            None => None,
        };
        let mut spec = ConfigSpec::new(
            &format!("inventory {}", store.id),
            operation::INVENTORY,
            ScheduleSpec::Recurrence(recurrence.clone()),
        );
        spec.run_on = RunOn::from_option(store.agent_id.as_deref());
        spec.params = StoreJobParams {
            certificate_store_id: Some(store.id.to_string()),
            ..Default::default()
        }
        .to_value();
        spec.max_retries = 1;
        let config = self
            .build_store_config(store, spec, existing.as_ref(), now)
            .await?;
        let mut jobs = Vec::new();
        if recurrence_fires(&recurrence, now).runs_now {
            let mut job = JobSpec::from_config(&config, now);
            job.schedule_kind = recurrence.kind();
            jobs.push(job.build(&store.account_id, now));
        }
        Ok(self
            .db
            .set_inventory_schedule(&store.account_id, store.id, Some(&config), &jobs)
            .await?)
    }
}

/// Stores and aliases one Management request may name (after removing repeats).
pub const MAX_MANAGEMENT_TARGETS: usize = 500;

/// A job of `store` running `op` with `params`, due at `due`, on the store's agent.
fn store_job(
    store: &CertificateStore,
    op: &str,
    params: &StoreJobParams,
    due: DateTime<Utc>,
) -> JobSpec {
    let mut job = JobSpec::new(op, params.to_value(), Some(store.store_type.clone()), due);
    job.name = format!("{op} {}:{}", store.client_machine, store.store_path);
    job.run_on = RunOn::from_option(store.agent_id.as_deref());
    job
}

/// A refusal caused by the state of something that exists: a conflict.
/// What a reenrollment request asks a CA for, as far as it is known before the CSR: the
/// subject's common name with the key type, and the SANs (apart, so a refusal names
/// which).
fn requested_names(
    r: &Reenrollment,
) -> (
    crate::tenancy::issuance::Requested,
    crate::tenancy::issuance::Requested,
) {
    use crate::tenancy::issuance::{Requested, common_names, key_of_type};
    let subject = Requested {
        common_names: common_names(&r.subject),
        key: key_of_type(&r.key_type),
        ..Requested::default()
    };
    let mut sans = Requested::default();
    for san in &r.sans {
        match san.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => sans.ip_addresses.push(ip),
            Err(_) => sans.dns_names.push(san.trim().to_owned()),
        }
    }
    (subject, sans)
}

fn as_conflict(err: DomainError) -> DomainError {
    match err {
        DomainError::Unprocessable { field, reason } => DomainError::Conflict {
            field: Some(field),
            reason,
        },
        other => other,
    }
}

/// A store the request listed at `index` was not found: say which.
fn at_store(err: DomainError, index: usize) -> DomainError {
    match err {
        DomainError::NotFound { reason, .. } => {
            DomainError::not_found_at(Field::Store.in_item(index), reason)
        }
        other => other,
    }
}

/// The path of the first `SecretValue` member anywhere in `value`.
fn secret_value_path(value: &Value, path: &mut Vec<String>) -> Option<Vec<String>> {
    match value {
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            path.push(k.clone());
            let found = if k.eq_ignore_ascii_case("SecretValue") && !v.is_null() {
                Some(path.clone())
            } else {
                secret_value_path(v, path)
            };
            path.pop();
            found
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            path.push(i.to_string());
            let found = secret_value_path(v, path);
            path.pop();
            found
        }),
        _ => None,
    }
}

/// A store on an agent's machine: its path is the agent's to check against its own
/// grants when it runs a job, so the server checks what it can: an absolute path without
/// `..`, and a store type the agent announced it serves.
fn check_agent_store(store: &CertificateStore, agent: &Agent) -> DomainResult<()> {
    if !store.store_path.starts_with('/') || store.store_path.split('/').any(|p| p == "..") {
        return Err(DomainError::unprocessable(
            Field::StorePath,
            "must be an absolute path on the agent's machine without '..' components",
        ));
    }
    let capability =
        crate::domain::agents::jobs::store_capability(&store.store_type, operation::INVENTORY);
    if !agent
        .capabilities
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&capability))
    {
        return Err(DomainError::unprocessable(
            Field::RunOn,
            format!(
                "agent {} ({}) does not announce {capability}; it announces {}",
                agent.id,
                agent.client_machine,
                if agent.capabilities.is_empty() {
                    "nothing".to_owned()
                } else {
                    agent.capabilities.join(", ")
                }
            ),
        ));
    }
    Ok(())
}
