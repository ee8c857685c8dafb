//! `/KeyfactorAPI/CertificateStores` over HTTP against a real server with the real store
//! plugins: CRUD, validation and account scoping; inventory schedules; inventories of
//! stores made by `openssl` (a PEM file and a PKCS#12 from `openssl pkcs12 -export`)
//! landing in the inventory endpoint; Management add/remove jobs; Reenrollment
//! requests; Discovery. SQLite and, when configured, PostgreSQL.

mod crud;
mod discovery;
mod inventory;
mod management;
mod reenrollment;
mod schedules;
mod support;
mod writes;
