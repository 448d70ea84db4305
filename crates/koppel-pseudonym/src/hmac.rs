//! The one HMAC-SHA256 code path of koppel: a keyed state computed once and
//! cloned per message, so hashing an identifier costs two SHA-256 block
//! compressions and no re-keying.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 with the key (and optionally a message prefix) already absorbed.
#[derive(Clone)]
pub struct KeyedHmac {
    state: Hmac<Sha256>,
}

impl KeyedHmac {
    /// Key the state. HMAC accepts keys of any length (long keys are hashed).
    pub fn new(key: &[u8]) -> KeyedHmac {
        let state = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
            Ok(state) => state,
            // HMAC's key-length check never fails: any length is valid.
            Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
        };
        KeyedHmac { state }
    }

    /// A copy of this state that has already absorbed `prefix`, so every later
    /// message is hashed as `prefix || message`.
    pub fn with_prefix(&self, prefix: &[u8]) -> KeyedHmac {
        let mut state = self.state.clone();
        state.update(prefix);
        KeyedHmac { state }
    }

    /// The full 32-byte MAC of `message` (after any absorbed prefix).
    #[inline]
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut state = self.state.clone();
        state.update(message);
        state.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 §4.2–4.8: HMAC-SHA-256 test cases 1–7 (case 5 truncated to 128 bits).
    #[test]
    fn rfc4231_test_cases() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "a3b6167473100ee06e0c796c2955552b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than \
block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, data, expected)) in cases.iter().enumerate() {
            let mac = KeyedHmac::new(key).mac(data);
            let got = hex::encode(&mac[..expected.len() / 2]);
            assert_eq!(&got, expected, "RFC 4231 test case {}", i + 1);
        }
    }

    #[test]
    fn prefix_absorption_equals_concatenation() {
        let keyed = KeyedHmac::new(b"key");
        assert_eq!(
            keyed.with_prefix(b"bsn:").mac(b"123456782"),
            keyed.mac(b"bsn:123456782")
        );
    }
}
