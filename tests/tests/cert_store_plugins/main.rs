//! The certificate-store plugins (`pem-store`, `pkcs12-store`, `jks-store`), compiled
//! and run through the host runtime, against stores made by `openssl` and `keytool`;
//! what they write is read back with the same tools. Reenrollment is signed by
//! `openssl x509 -req` behind the host's `CertificateAuthority`.

mod bad_input;
mod describe;
mod discovery;
mod dry_run;
mod jks;
mod lab;
mod pem;
mod pkcs12;
mod reenrollment;
