//! A failed cloud call, worded for job messages and the `failed` details. Carries the
//! cloud's error code and message, never a credential.

use keywarden_sdk::JobError;
use keywarden_sdk::http::HttpError;

#[derive(Debug, Clone)]
pub struct CloudError(pub String);

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<HttpError> for CloudError {
    fn from(e: HttpError) -> Self {
        CloudError(e.to_string())
    }
}

impl From<CloudError> for JobError {
    fn from(e: CloudError) -> Self {
        JobError::Failed(e.0)
    }
}
