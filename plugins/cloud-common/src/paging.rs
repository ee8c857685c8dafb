//! A guard on the clouds' paged lists: a server that hands back a page token it already
//! gave, or pages without end, fails the job instead of keeping it busy until its time
//! limit.

use std::collections::HashSet;

use crate::error::CloudError;

/// More pages than any account this plugin rotates should have (at 25 to 1,000 items a
/// page, 25,000 items at the least).
pub const MAX_PAGES: usize = 1_000;

#[derive(Default)]
pub struct PageGuard {
    seen: HashSet<String>,
}

impl PageGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` as the next page of `what`, or says why not.
    pub fn next(&mut self, what: &str, token: &str) -> Result<(), CloudError> {
        if self.seen.len() >= MAX_PAGES {
            return Err(CloudError(format!(
                "{what}: more than {MAX_PAGES} pages; refusing to read on"
            )));
        }
        if !self.seen.insert(token.to_owned()) {
            return Err(CloudError(format!(
                "{what}: the service handed back a page token it already gave"
            )));
        }
        Ok(())
    }
}

/// `scheme://host:port` of a URL, lower-cased, with the scheme's default port made
/// explicit, so `https://v.vault.azure.net:443/keys` and `https://V.vault.azure.net/x`
/// compare equal. `None` for what is not an absolute http(s) URL.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // `[v6]:port` keeps its colons inside the brackets.
    let split_at = match authority.rfind(']') {
        Some(end) => authority[end..].find(':').map(|i| end + i),
        None => authority.rfind(':'),
    };
    let (host, port) = match split_at {
        Some(i) => {
            let p = &authority[i + 1..];
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&authority[..i], p.trim_start_matches('0'))
        }
        None => (authority, default),
    };
    Some(format!("{scheme}://{}:{port}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_tokens_and_endless_paging_are_refused() {
        let mut g = PageGuard::new();
        g.next("list", "a").unwrap();
        g.next("list", "b").unwrap();
        assert!(g.next("list", "a").unwrap_err().0.contains("already gave"));
        let mut g = PageGuard::new();
        for i in 0..MAX_PAGES {
            g.next("list", &i.to_string()).unwrap();
        }
        assert!(g.next("list", "last").unwrap_err().0.contains("pages"));
    }

    #[test]
    fn origins_compare_with_default_ports_and_case() {
        let o = |u| origin(u).unwrap();
        assert_eq!(
            o("https://V.vault.azure.net"),
            o("https://v.vault.azure.net:443/keys?x=1")
        );
        assert_eq!(o("http://127.0.0.1:8080/a"), "http://127.0.0.1:8080");
        assert_ne!(
            o("https://v.vault.azure.net"),
            o("https://v.vault.azure.net:8443")
        );
        assert_ne!(
            o("https://v.vault.azure.net"),
            o("http://v.vault.azure.net")
        );
        assert_ne!(o("https://a.net"), o("https://a.net.evil.com"));
        assert_eq!(origin("https://user@a.net/"), None);
        assert_eq!(origin("ftp://a.net"), None);
        assert_eq!(origin("https://a.net:x/"), None);
        assert_eq!(o("http://[::1]:8080/x"), "http://[::1]:8080");
        assert_eq!(o("https://[::1]/x"), "https://[::1]:443");
    }
}
