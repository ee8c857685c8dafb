//! The Keyfactor orchestrator job endpoints over HTTP against the real server with the
//! real `hello` and `hostile` plugins, on SQLite and (when configured) PostgreSQL:
//! JobHistory filtering, sorting and paging through the query language, every query
//! fault answered 400 with its position, Reschedule and Acknowledge by ids and by query,
//! and custom jobs run through the Custom endpoint.

mod custom;
mod history;
mod query_faults;
mod reschedule;
mod support;
