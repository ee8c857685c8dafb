use super::*;

fn policy(toml_text: &str) -> AccountIssuance {
    let policy: IssuancePolicy = toml::from_str(toml_text).unwrap();
    AccountIssuance::new("team-a", BTreeMap::from([("local".to_owned(), policy)]))
}

fn names(dns: &[&str]) -> Requested {
    Requested {
        dns_names: dns.iter().map(|s| (*s).to_owned()).collect(),
        ..Requested::default()
    }
}

#[test]
fn domains_bare_subdomains_and_wildcards() {
    let bare = policy("allowed_domains = [\"team-a.example\"]");
    assert!(bare.check("local", &names(&["team-a.example"])).is_ok());
    assert!(bare.check("local", &names(&["TEAM-A.example."])).is_ok());
    let sub = bare
        .check("local", &names(&["www.team-a.example"]))
        .unwrap_err();
    assert!(sub.contains("allow_subdomains = false"), "{sub}");
    assert!(bare.check("local", &names(&["team-b.example"])).is_err());
    assert!(
        bare.check("local", &names(&["evilteam-a.example"]))
            .is_err()
    );

    let subs = policy(
        "allowed_domains = [\"team-a.example\"]\nallow_subdomains = true\nallow_bare_domains = false",
    );
    assert!(subs.check("local", &names(&["a.b.team-a.example"])).is_ok());
    assert!(subs.check("local", &names(&["team-a.example"])).is_err());
    let wild = subs
        .check("local", &names(&["*.team-a.example"]))
        .unwrap_err();
    assert!(wild.contains("allow_wildcards is false"), "{wild}");

    let wildcards = policy(
        "allowed_domains = [\"team-a.example\"]\nallow_subdomains = true\nallow_wildcards = true",
    );
    assert!(
        wildcards
            .check("local", &names(&["*.team-a.example"]))
            .is_ok()
    );
    assert!(wildcards.check("local", &names(&["*.example"])).is_err());
    assert!(
        wildcards
            .check("local", &names(&["a*.team-a.example"]))
            .is_err()
    );
}

#[test]
fn the_common_name_ip_addresses_and_emails_are_names_too() {
    let p = policy(
        "allowed_domains = [\"team-a.example\"]\nallowed_ip_ranges = [\"127.0.0.0/8\", \"::1/128\"]",
    );
    let mut r = Requested {
        common_names: vec!["team-b.example".into()],
        ..Requested::default()
    };
    let err = p.check("local", &r).unwrap_err();
    assert!(err.contains("common name \"team-b.example\""), "{err}");
    r.common_names = vec!["127.0.0.9".into()];
    assert!(p.check("local", &r).is_ok());
    r.ip_addresses = vec!["10.0.0.1".parse().unwrap()];
    assert!(
        p.check("local", &r)
            .unwrap_err()
            .contains("allowed_ip_ranges")
    );
    r.ip_addresses = vec!["::1".parse().unwrap()];
    assert!(p.check("local", &r).is_ok());
    r.emails = vec!["ops@team-a.example".into()];
    assert!(
        p.check("local", &r)
            .unwrap_err()
            .contains("allow_email_addresses")
    );
    r.emails.clear();
    r.uris = vec!["spiffe://team-a/x".into()];
    assert!(p.check("local", &r).unwrap_err().contains("URI"));
}

#[test]
fn usages_key_types_sizes_and_validity() {
    let p = policy(
        "allowed_domains = [\"team-a.example\"]\nallowed_key_types = [\"ec\", \"rsa\"]\nmin_rsa_bits = 3072\nmax_validity_days = 30",
    );
    let mut r = names(&["team-a.example"]);
    assert_eq!(
        p.check("local", &r).unwrap(),
        Some(chrono::Duration::days(30))
    );
    r.usages = vec![ExtendedKeyUsage::CodeSigning];
    assert!(p.check("local", &r).unwrap_err().contains("code_signing"));
    r.usages = vec![ExtendedKeyUsage::ServerAuth];
    r.key = Some(CsrKey::Rsa(2048));
    assert!(
        p.check("local", &r)
            .unwrap_err()
            .contains("min_rsa_bits = 3072")
    );
    r.key = Some(CsrKey::Ed25519);
    assert!(
        p.check("local", &r)
            .unwrap_err()
            .contains("allowed_key_types")
    );
    r.key = Some(CsrKey::Ec(384));
    assert!(p.check("local", &r).is_ok());
}

#[test]
fn an_authority_without_a_policy_is_not_granted() {
    let p = policy("allowed_domains = [\"team-a.example\"]");
    let err = p.check("acme", &names(&["team-a.example"])).unwrap_err();
    assert!(err.contains("[accounts.team-a.authorities.acme]"), "{err}");
}

#[test]
fn a_real_csrs_names_and_key_are_judged() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["www.team-b.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "team-a.example");
    let csr = params.serialize_request(&key).unwrap();
    let verified = csr::verify(csr.der()).unwrap();
    let requested = Requested::of(&verified);
    assert_eq!(requested.common_names, ["team-a.example"]);
    assert_eq!(requested.key, Some(CsrKey::Ec(256)));
    let p = policy("allowed_domains = [\"team-a.example\"]\nallow_subdomains = true");
    let err = p.check("local", &requested).unwrap_err();
    assert!(err.contains("DNS name \"www.team-b.example\""), "{err}");
}

#[test]
fn subjects_and_key_types_of_requests() {
    assert_eq!(common_names("O=Ex\\, Inc.,CN=a.example"), ["a.example"]);
    assert_eq!(common_names("cn=b.example+O=x"), ["b.example"]);
    assert_eq!(
        common_names("2.5.4.3=a.example,CN=b.example"),
        ["a.example", "b.example"]
    );
    assert!(common_names("O=x").is_empty());
    assert_eq!(key_of_type("rsa-2048"), Some(CsrKey::Rsa(2048)));
    assert_eq!(key_of_type("EC-P384"), Some(CsrKey::Ec(384)));
    assert_eq!(key_of_type("dsa"), None);
}

/// A subject with two common names (by name and by OID, or multi-valued) is refused,
/// whichever of them a CA would keep.
#[test]
fn two_common_names_are_refused() {
    let p = policy("allowed_domains = [\"team-b.example\"]\nallow_subdomains = true");
    let r = Requested {
        common_names: common_names("2.5.4.3=api.team-a.example,CN=b.team-b.example"),
        ..Requested::default()
    };
    let err = p.check("local", &r).unwrap_err();
    assert!(err.contains("2 common names"), "{err}");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "b.team-b.example");
    params.distinguished_name.push(
        rcgen::DnType::CustomDnType(vec![2, 5, 4, 3]),
        "api.team-a.example",
    );
    let csr = params.serialize_request(&key).unwrap();
    let requested = Requested::of(&csr::verify(csr.der()).unwrap());
    if requested.common_names.len() == 2 {
        assert!(p.check("local", &requested).is_err());
    }
}
