//! What every cloud plugin's scope filters share: the operator's comma-separated
//! defaults and "carries every wanted tag or label" (an account's pinned scope is such a
//! map, so the rule is written once).

use std::collections::BTreeMap;

/// The non-empty, trimmed items of the comma-separated plugin setting `key`.
pub fn config_list(key: &str) -> Vec<String> {
    keywarden_sdk::config::get(key)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `have` carries every `wanted` tag with the wanted value.
pub fn carries_all(wanted: &BTreeMap<String, String>, have: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| have.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wanted_tag_with_its_value() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let have = map(&[("team", "pay"), ("env", "prod")]);
        assert!(carries_all(&map(&[]), &have));
        assert!(carries_all(&map(&[("team", "pay")]), &have));
        assert!(!carries_all(&map(&[("team", "data")]), &have));
        assert!(!carries_all(&map(&[("team", "pay"), ("tier", "1")]), &have));
    }
}
