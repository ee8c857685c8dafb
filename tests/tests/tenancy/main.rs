//! Two accounts, `team-a` and `team-b`, sharing one server, each granted its own part of
//! the plugins' grants (`[accounts.*]` in the operator config): B can read, change, run
//! or learn nothing of A's, and every refusal is a 403 or 404 naming the rule. The attacks
//! of the tenancy issue are here one by one, each against the real server and plugins.

mod cloud;
mod hardening;
mod isolation;
mod issuance;
mod quotas;
mod stores;
mod support;
mod tokens;
