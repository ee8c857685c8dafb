//! The host's certificate authorities against real parts: CSRs made by `openssl req` and
//! rcgen, chains checked by `openssl verify`, ACME against pebble (`.ci/pebble.sh`).

mod acme;
mod enrollment;
mod local;
mod serve;
mod support;
