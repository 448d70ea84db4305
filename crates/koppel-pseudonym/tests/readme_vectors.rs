//! The README's test-vector table, read from the README itself and checked
//! against the code, so the published vectors cannot drift (issue #2).

use koppel_pseudonym::{normalise_bsn, Key, Pseudonymiser};

const README: &str = include_str!("../../../README.md");

/// The published key and its key id: the first two `code` spans of the
/// paragraph that starts with "Published test key".
fn readme_key() -> (Key, String) {
    let paragraph: String = README
        .lines()
        .skip_while(|l| !l.starts_with("Published test key"))
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let spans: Vec<&str> = paragraph.split('`').skip(1).step_by(2).collect();
    assert!(spans.len() >= 2, "README states the test key and its id");
    let key = Key::from_hex(spans[0]).expect("README test key is 64 hex characters");
    (key, spans[1].to_string())
}

#[test]
fn readme_test_vectors() {
    let (key, key_id) = readme_key();
    assert_eq!(key.id().as_str(), key_id, "README key id");
    let pseudonymiser = Pseudonymiser::new(&key);
    let table: Vec<Vec<String>> = README
        .lines()
        .skip_while(|l| !l.starts_with("| input | normalised | pseudonym |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert!(table.len() >= 5, "README must list at least 5 test vectors");
    for row in &table {
        let (input, normalised, pseudonym) = (&row[0], &row[1], &row[2]);
        assert_eq!(
            normalise_bsn(input).unwrap().as_str(),
            normalised,
            "{input}"
        );
        assert_eq!(
            pseudonymiser.raw_bsn(input).unwrap().to_string(),
            *pseudonym,
            "pseudonym of {input}"
        );
    }
}

#[test]
fn readme_local_identifier_vectors() {
    use koppel_pseudonym::IdKind;
    let (key, _) = readme_key();
    let p = Pseudonymiser::new(&key);
    let line: String = README
        .lines()
        .skip_while(|l| !l.starts_with("Local identifiers under the same key"))
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let spans: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
    assert_eq!(spans.len(), 6, "README lists two local-identifier vectors");
    for triple in spans.chunks(3) {
        let kind = match triple[0] {
            "tid:" => IdKind::Trajectory,
            "job:" => IdKind::Job,
            other => panic!("unknown prefix {other}"),
        };
        assert_eq!(p.of_kind(kind, triple[1]).to_string(), triple[2]);
    }
}
