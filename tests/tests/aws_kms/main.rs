//! The `aws-kms` plugin end to end: keys and aliases made with boto3 in a real local KMS
//! server, rotations scheduled through the REST API of a real server (port 0, the real
//! compiled plugin), run with run-now, and KMS read back with boto3.
//!
//! The server is moto's, except for imported key material (`imported`), which moto does
//! not implement and LocalStack does.

mod dry_run;
mod helpers;
mod imported;
mod rotation;
mod synchronization;
mod target_lock;
mod validation;
