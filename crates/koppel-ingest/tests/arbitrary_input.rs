//! Property test (issue #5): arbitrary bytes as input never panic, and when
//! a file is readable at all, every row is accounted for.

use std::io::Write;

use koppel_ingest::{validate_file, InputKind, ValidateOptions};
use proptest::prelude::*;

const HEADER: &[u8] = b"BSN;Gemeente;Trajectnummer;Instrument;Startdatum;Einddatum\n";

fn check(bytes: &[u8], ext: &str, kind: InputKind) {
    let mut file = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    let options = ValidateOptions {
        batch_rows: 7,
        ..ValidateOptions::default()
    };
    if let Ok(report) = validate_file(kind, file.path(), &options) {
        assert_eq!(report.rows_read, report.accepted + report.rejected);
        assert!(report.problems.len() as u64 >= report.rejected.min(options.max_problems as u64));
    }
}

fn kind() -> impl Strategy<Value = InputKind> {
    prop::sample::select(InputKind::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), kind in kind()) {
        check(&bytes, ".csv", kind);
        check(&bytes, ".parquet", kind);
    }

    #[test]
    fn arbitrary_rows_under_a_valid_header_never_panic(
        body in prop::collection::vec(prop::sample::select(b"0123456789;,\"\r\n -GMabcT\xe9\xff".to_vec()), 0..1500)
    ) {
        let mut bytes = HEADER.to_vec();
        bytes.extend_from_slice(&body);
        check(&bytes, ".csv", InputKind::Trajectories);
    }
}
