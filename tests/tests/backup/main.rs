//! `database_backup` and `keywarden restore`, end to end on both databases: real
//! servers, the real binary, the `age` CLI, and a real OpenSSH `sshd` for uploads.

mod access;
mod moves;
mod older;
mod refusals;
mod sftp;
mod support;
