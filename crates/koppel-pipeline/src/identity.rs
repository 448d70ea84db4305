//! The build identity of the code behind a stage: a hash of the sources of
//! the crates it names and of everything they depend on in the workspace,
//! computed at build time (see `build.rs`). A code change therefore reruns
//! the stages whose code changed, even when the version number did not.

use crate::manifest::{sha256_hex, SOFTWARE_VERSION};

include!(concat!(env!("OUT_DIR"), "/build_identity.rs"));

/// The build identity of a set of workspace crates (the version, for a
/// crate the build did not see).
pub fn identity(crates: &[&str]) -> String {
    let mut text = String::new();
    for name in crates {
        let id = CRATE_IDENTITIES
            .iter()
            .find(|(crate_name, _)| crate_name == name)
            .map(|(_, id)| *id)
            .unwrap_or(SOFTWARE_VERSION);
        text.push_str(name);
        text.push('=');
        text.push_str(id);
        text.push('\n');
    }
    sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_crate_has_an_identity_and_they_differ() {
        for name in [
            "koppel-ingest",
            "koppel-link",
            "koppel-disclosure",
            "koppel-report",
        ] {
            assert!(
                CRATE_IDENTITIES.iter().any(|(n, _)| *n == name),
                "{name} missing from the build identities"
            );
        }
        assert_ne!(identity(&["koppel-ingest"]), identity(&["koppel-link"]));
        assert_eq!(identity(&["koppel-link"]), identity(&["koppel-link"]));
    }
}
