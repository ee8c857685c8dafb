//! The cloud key-rotation plugins that have no installable emulator, end to end: a real
//! server (port 0, the real compiled plugins), jobs scheduled and run through the REST
//! API, against fakes that check every request against the vendor's published API, or for
//! OCI one written from the vendor's SDKs (`keywarden_tests::fakes`), then the fake's
//! state read back.

mod azure;
mod gcp;
mod oci;
