//! `/KeyfactorAPI/SSL` against a real server: networks and their ranges (bad input
//! answered with the field at fault, another account's networks out of reach), and scans
//! of a fleet of `openssl s_server` endpoints on loopback addresses.

mod networks;
mod restart;
mod scans;
