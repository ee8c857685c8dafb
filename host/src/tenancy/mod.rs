//! Tenancy: what each account (team) sharing one server may reach. Accounts are isolated
//! in the database by the domain service; this module is the rest of it: the operator's
//! `[accounts.NAME]` grants ([`config`]), the grants a job of an account runs with
//! ([`access`]), params pinned by a grant ([`pinned`]) and issuance policies
//! ([`issuance`]). The domain service asks it before storing or queueing anything; the
//! executor and the host imports ask it again when a job runs.

pub mod access;
pub mod config;
pub mod issuance;
pub mod pinned;
