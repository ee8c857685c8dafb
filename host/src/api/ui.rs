//! The dashboard (`/ui`): static HTML, CSS and JavaScript modules from `host/ui/`, embedded
//! in the binary so the server needs no files, no CDN and no build step at run time.
//!
//! The assets are served without a token: they hold no data. Every figure the page shows
//! comes from the same REST API with the user's bearer token, so the page can do nothing
//! the API refuses. The headers lock the page down: the Content-Security-Policy allows
//! only this origin's scripts, styles and requests (no inline code, no framing, no form
//! posts), `nosniff` keeps each asset to its declared type, and no referrer leaves.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The policy every dashboard answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'none'";

/// One embedded file: its name under `/ui/`, its content type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $ctype:expr) => {
        Asset {
            name: $name,
            content_type: $ctype,
            body: include_str!(concat!("../../ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `host/ui/` (a file missing here is simply not served).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("events.js", JS),
    asset!("login.js", JS),
    asset!("configs.js", JS),
    asset!("jobs.js", JS),
    asset!("job.js", JS),
    asset!("history.js", JS),
    asset!("stores.js", JS),
    asset!("keys.js", JS),
    asset!("plugins.js", JS),
];

/// The `/ui` routes; they need no token.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { serve("index.html") }))
        .route(
            "/ui/{asset}",
            get(|Path(name): Path<String>| async move { serve(&name) }),
        )
}

/// The asset named `name` with the dashboard's headers, or 404 (with the same headers).
fn serve(name: &str) -> Response {
    let found = ASSETS.iter().find(|a| a.name == name);
    let mut response = match found {
        Some(asset) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "no such dashboard file",
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Revalidated on every load: a server upgrade ships new assets under the same names.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_the_policy_and_its_type() {
        for asset in ASSETS {
            let response = serve(asset.name);
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }

    #[test]
    fn unknown_names_are_404_and_paths_do_not_escape() {
        for name in ["nope.js", "../Cargo.toml", "", "index.html/"] {
            assert_eq!(serve(name).status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn no_asset_carries_inline_code_the_policy_would_block() {
        let page = ASSETS.iter().find(|a| a.name == "index.html").unwrap();
        assert!(!page.body.contains("<script>"), "inline script");
        assert!(!page.body.contains("style="), "inline style");
        assert!(!page.body.contains("<style"), "inline style");
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            assert!(
                !asset.body.contains("innerHTML"),
                "{} uses innerHTML",
                asset.name
            );
            assert!(!asset.body.contains("eval("), "{} uses eval", asset.name);
        }
    }
}
