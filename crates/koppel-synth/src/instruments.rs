//! The instrument catalogue, `config/instruments.toml`, as the generator
//! uses it: the shared catalogue of `koppel_schema::instruments` (one parser
//! for every crate), compiled in ([`Catalogue::builtin`]) so the generator
//! works from any directory, or read from another copy with [`load`].

use std::path::Path;

pub use koppel_schema::instruments::{Catalogue, CatalogueError, Instrument, GROUPS};

use crate::SynthError;

/// The catalogue text compiled into the crate.
pub use koppel_schema::instruments::BUILTIN as BUILTIN_TOML;

/// Read and check a catalogue file.
pub fn load(path: &Path) -> Result<Catalogue, SynthError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SynthError::Io(format!("cannot read {}: {e}", path.display())))?;
    Catalogue::parse(&text).map_err(|source| SynthError::Catalogue {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalogue_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("instruments.toml");
        std::fs::write(&good, BUILTIN_TOML).unwrap();
        assert_eq!(load(&good).unwrap(), Catalogue::builtin());
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "instrument = []\n").unwrap();
        let err = load(&bad).unwrap_err().to_string();
        assert!(
            err.contains("bad.toml") && err.contains("no [[instrument]]"),
            "{err}"
        );
        let missing = load(&dir.path().join("absent.toml")).unwrap_err();
        assert!(missing.to_string().contains("absent.toml"), "{missing}");
    }
}
