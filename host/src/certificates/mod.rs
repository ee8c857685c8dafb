//! Certificate stores on the host side: the params contract of certificate-store jobs
//! (shared by the Keyfactor API and the executor) and certificate parsing.

pub mod job_params;
pub mod parse;

/// Store type names as plugins declare them are matched case-insensitively; the host
/// keeps them upper case.
pub fn canonical_store_type(name: &str) -> String {
    name.trim().to_ascii_uppercase()
}
