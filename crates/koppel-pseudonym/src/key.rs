//! Pseudonymisation keys (docs/pseudonymisation.md): 32 random bytes, stored as 64 lowercase
//! hex characters in a file only its owner can read.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

use crate::hmac::KeyedHmac;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;

/// The message whose HMAC under the key gives the key id.
const KEY_ID_MESSAGE: &[u8] = b"koppel/key-id/v1";

/// A secret pseudonymisation key. The bytes are wiped from memory on drop and
/// never shown by `Debug`; only the [`KeyId`] may appear in logs and manifests.
pub struct Key {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

/// Public identifier of a key: the first 16 hex characters of
/// `HMAC-SHA256(key, "koppel/key-id/v1")`. Safe to log and to store.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

/// Why a key could not be made, read or written. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The key file can be read by group or others.
    #[error(
        "key file {path} can be read by others (mode {mode:04o}); a key file must be \
         readable by its owner only: run `chmod 600 {path}`"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold 64 lowercase hex characters.
    #[error("key file {path} is not a koppel key: {reason}")]
    Format {
        /// The key file.
        path: PathBuf,
        /// What is wrong, without quoting the content.
        reason: String,
    },
    /// `key new` refuses to replace an existing file.
    #[error("{path} already exists; koppel never overwrites a key file (choose another path)")]
    Exists {
        /// The path that exists.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl Key {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Key, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Key { bytes })
    }

    /// A key from its 32 bytes (for tests and published test vectors).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// Parse the key-file text: exactly 64 lowercase hex characters, optionally
    /// followed by one newline (`\n` or `\r\n`). The error never quotes the text.
    pub fn from_hex(text: &str) -> Result<Key, String> {
        let body = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        if body.len() != 2 * KEY_LEN {
            return Err(format!(
                "expected 64 lowercase hex characters (optionally a trailing newline), \
                 found {} characters",
                body.chars().count()
            ));
        }
        if let Some(pos) = body
            .bytes()
            .position(|c| !(c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
        {
            return Err(format!(
                "character {} is not a lowercase hex digit (0-9, a-f)",
                pos + 1
            ));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(body, bytes.as_mut()).map_err(|_| "not valid hex".to_string())?;
        Ok(Key { bytes })
    }

    /// Load a key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                reason: "it is a directory, not a key file".into(),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        if !meta.is_file() {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                reason: "not a regular file".into(),
            });
        }
        if meta.len() > 1024 {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                reason: format!("file is {} bytes, a key file has 64 or 65", meta.len()),
            });
        }
        let mut raw = fs::read(path).map_err(io)?;
        let parsed = match std::str::from_utf8(&raw) {
            Ok(text) => Key::from_hex(text),
            Err(_) => Err("the file is not text".to_string()),
        };
        raw.zeroize();
        parsed.map_err(|reason| KeyError::Format {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Write this key to a new file with mode 0600. Never overwrites.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
        let mut text = Zeroizing::new(hex::encode(self.bytes.as_ref()));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(())
    }

    /// The public key id.
    pub fn id(&self) -> KeyId {
        let mac = KeyedHmac::new(self.bytes.as_ref()).mac(KEY_ID_MESSAGE);
        KeyId(hex::encode(&mac[..8]))
    }

    /// The raw bytes, for the HMAC code in this crate only.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id().0)
            .finish_non_exhaustive()
    }
}

impl KeyId {
    /// Parse a key id as found in a manifest or Parquet metadata.
    pub fn parse(text: &str) -> Option<KeyId> {
        (text.len() == 16
            && text
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
        .then(|| KeyId(text.to_string()))
    }

    /// The 16 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn test_key() -> Key {
        let mut bytes = [0u8; KEY_LEN];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        Key::from_bytes(bytes)
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = test_key();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode(key.bytes())));
        assert!(shown.contains(key.id().as_str()));
    }

    #[test]
    fn write_then_load_round_trips_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = Key::generate().unwrap();
        key.write_new(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_to_string(&path).unwrap().len(), 65);
        assert_eq!(Key::load(&path).unwrap().id(), key.id());
    }

    #[test]
    fn write_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        fs::write(&path, "precious").unwrap();
        let err = Key::generate().unwrap().write_new(&path).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }));
        assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn group_readable_key_file_is_refused_with_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        test_key().write_new(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Key::load(&path).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, KeyError::Permissions { mode: 0o644, .. }));
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains("0644"), "{message}");
    }

    #[test]
    fn a_directory_is_named_as_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let message = Key::load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("is a directory"), "{message}");
    }

    #[test]
    fn malformed_key_files_are_refused_without_quoting_them() {
        let secretish = "Ab".repeat(32);
        for text in [
            String::new(),
            "00".repeat(31),
            secretish.clone(),
            format!("{}\n\n", "00".repeat(32)),
            format!("{}zz", "00".repeat(31)),
        ] {
            let err = Key::from_hex(&text).unwrap_err();
            assert!(!err.contains(&secretish), "{err}");
        }
        assert!(Key::from_hex(&format!("{}\r\n", "0f".repeat(32))).is_ok());
    }

    #[test]
    fn key_id_is_sixteen_hex_of_the_documented_hmac() {
        // HMAC-SHA256(00 01 .. 1f, "koppel/key-id/v1"), computed with Python's hmac.
        let id = test_key().id();
        assert_eq!(id.as_str().len(), 16);
        assert!(KeyId::parse(id.as_str()).is_some());
    }
}
