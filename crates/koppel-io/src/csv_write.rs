//! CSV field serialisation for writers that assemble rows themselves.

/// Append `field` (UTF-8 text) to `out` as one CSV field.
///
/// The field is quoted, with its quotes doubled, when it holds the
/// delimiter, a quote, CR or LF, and written as is otherwise: the
/// "necessary" quote style of polars' CSV writer and of the `csv` crate, so
/// rows assembled here are byte-identical to the ones [`crate::TableWriter`]
/// writes for the same text.
#[inline]
pub fn push_csv_field(out: &mut Vec<u8>, field: &[u8], delimiter: u8) {
    let needs_quotes = field
        .iter()
        .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs_quotes {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for part in field.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, delimiter: u8) -> String {
        let mut out = Vec::new();
        push_csv_field(&mut out, text.as_bytes(), delimiter);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_when_necessary() {
        assert_eq!(field("plain text", b','), "plain text");
        assert_eq!(field("", b','), "");
        assert_eq!(field("a,b", b','), "\"a,b\"");
        assert_eq!(field("a,b", b';'), "a,b");
        assert_eq!(field("a;b", b';'), "\"a;b\"");
        assert_eq!(field("say \"hi\"", b','), "\"say \"\"hi\"\"\"");
        assert_eq!(field("\"", b','), "\"\"\"\"");
        assert_eq!(field("two\nlines", b','), "\"two\nlines\"");
        assert_eq!(field("cr\rhere", b','), "\"cr\rhere\"");
        assert_eq!(field("Súdwest-Fryslân", b','), "Súdwest-Fryslân");
    }

    #[test]
    fn round_trips_through_the_csv_crate() {
        let fields = ["a", "", "b,c", "\"q\"", "x\r\ny", "é,\""];
        let mut line = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            push_csv_field(&mut line, f.as_bytes(), b',');
        }
        line.push(b'\n');
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(record.iter().collect::<Vec<_>>(), fields);
    }
}
