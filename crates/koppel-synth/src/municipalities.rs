//! Real CBS municipality codes used by the generator, with approximate
//! population sizes (thousands of residents, rounded, around 2023).
//!
//! The order interleaves large, mid-size and small municipalities, so that
//! `--municipalities M` always picks a realistic mix: the first `M` entries
//! are used and persons are spread over them in proportion to population.

/// One municipality: CBS code, name, approximate population in thousands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Municipality {
    /// CBS code, `GM` + 4 digits.
    pub code: &'static str,
    /// Official name.
    pub name: &'static str,
    /// Approximate number of residents, in thousands.
    pub population_k: f64,
}

impl Municipality {
    /// Small municipalities (under 50,000 residents) have older populations
    /// and older assistance recipients (docs/calibration.md: 60% over 45).
    pub fn is_small(&self) -> bool {
        self.population_k < 50.0
    }
}

const fn m(code: &'static str, name: &'static str, population_k: f64) -> Municipality {
    Municipality {
        code,
        name,
        population_k,
    }
}

/// All municipalities the generator knows, in selection order.
pub const MUNICIPALITIES: &[Municipality] = &[
    m("GM0363", "Amsterdam", 930.0),
    m("GM1859", "Berkelland", 44.0),
    m("GM0599", "Rotterdam", 665.0),
    m("GM0193", "Zwolle", 132.0),
    m("GM0294", "Winterswijk", 29.0),
    m("GM0344", "Utrecht", 370.0),
    m("GM0197", "Aalten", 27.0),
    m("GM0014", "Groningen", 240.0),
    m("GM0153", "Enschede", 161.0),
    m("GM1586", "Oost Gelre", 30.0),
    m("GM0518", "'s-Gravenhage", 560.0),
    m("GM0119", "Meppel", 35.0),
    m("GM0772", "Eindhoven", 240.0),
    m("GM0088", "Schiermonnikoog", 1.0),
    m("GM0080", "Leeuwarden", 125.0),
    m("GM0109", "Coevorden", 35.0),
    m("GM0855", "Tilburg", 225.0),
    m("GM0166", "Kampen", 55.0),
    m("GM0034", "Almere", 220.0),
    m("GM0096", "Vlieland", 1.2),
    m("GM0268", "Nijmegen", 180.0),
    m("GM0301", "Zutphen", 48.0),
    m("GM0758", "Breda", 185.0),
    m("GM0183", "Tubbergen", 21.0),
    m("GM0202", "Arnhem", 165.0),
    m("GM0106", "Assen", 69.0),
    m("GM0392", "Haarlem", 165.0),
    m("GM0168", "Losser", 22.5),
    m("GM0935", "Maastricht", 121.0),
    m("GM0037", "Stadskanaal", 32.0),
    m("GM0200", "Apeldoorn", 166.0),
    m("GM0093", "Terschelling", 4.9),
    m("GM0307", "Amersfoort", 160.0),
    m("GM0047", "Veendam", 28.0),
    m("GM0546", "Leiden", 126.0),
    m("GM0060", "Ameland", 3.8),
    m("GM0150", "Deventer", 101.0),
    m("GM0277", "Rozendaal", 1.7),
    m("GM0114", "Emmen", 108.0),
    m("GM0189", "Wierden", 24.5),
    m("GM0505", "Dordrecht", 120.0),
    m("GM0173", "Oldenzaal", 32.0),
    m("GM0141", "Almelo", 73.0),
    m("GM0148", "Dalfsen", 29.0),
    m("GM0164", "Hengelo", 81.0),
    m("GM0163", "Hellendoorn", 36.0),
    m("GM0503", "Delft", 104.0),
    m("GM0232", "Epe", 33.0),
    m("GM0160", "Hardenberg", 61.0),
    m("GM0285", "Voorst", 24.5),
];

/// The first `count` municipalities (caller checks `1..=MUNICIPALITIES.len()`).
pub fn select(count: usize) -> &'static [Municipality] {
    &MUNICIPALITIES[..count.min(MUNICIPALITIES.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut codes: Vec<_> = MUNICIPALITIES.iter().map(|m| m.code).collect();
        for c in &codes {
            assert!(
                c.len() == 6 && c.starts_with("GM") && c[2..].bytes().all(|b| b.is_ascii_digit())
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MUNICIPALITIES.len());
    }
}
