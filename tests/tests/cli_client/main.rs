//! The CLI client (`keywarden configs|jobs|stores|...`) as a user runs it: the real
//! `keywarden` binary as a subprocess against a real server on port 0, checking the
//! table people read, the JSON scripts read (equal to what the API answers) and the exit
//! codes of refusals. Each test runs many commands against one server to stay fast.

mod ciphertrust;
mod keyfactor;
mod local;
mod streams;
mod support;
