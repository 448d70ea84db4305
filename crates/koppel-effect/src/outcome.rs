//! Outcomes measured from time zero.

use crate::history::{add_months, durable_outflow, episodes, state_at, State};
use crate::load::Histories;

/// One outcome at one horizon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeSpec {
    /// `werk`, `off_assistance`, a state, `durable_outflow` or `werk_placebo`.
    pub name: &'static str,
    /// Months after time zero (negative: before, for the placebo).
    pub horizon: i32,
}

/// Per horizon `werk` (in work without assistance), `off_assistance`
/// (neither `bijstand` nor `bijstand_met_werk`) and the other states
/// `bijstand_met_werk`, `bijstand`, `ww`, `overig`; then `durable_outflow`
/// (horizon 24, see [`durable_outflow`]) and the placebo `werk_placebo`
/// (in work without assistance 12 months before time zero: a start cannot
/// cause it, so its estimated effect should be about zero).
pub fn outcome_specs(horizons: &[u32]) -> Vec<OutcomeSpec> {
    let mut out = Vec::new();
    for &k in horizons {
        for name in [
            "werk",
            "off_assistance",
            "bijstand_met_werk",
            "bijstand",
            "ww",
            "overig",
        ] {
            out.push(OutcomeSpec {
                name,
                horizon: k as i32,
            });
        }
    }
    out.push(OutcomeSpec {
        name: "durable_outflow",
        horizon: 24,
    });
    out.push(OutcomeSpec {
        name: "werk_placebo",
        horizon: -12,
    });
    out
}

/// The outcomes of person `p` from time zero `t0`, in `specs` order:
/// 1 / 0, or -1 when the horizon lies after `until` (not observed).
pub fn outcome_values(
    h: &Histories,
    p: u32,
    t0: i32,
    specs: &[OutcomeSpec],
    until: i32,
    gap_days: u32,
    out: &mut Vec<i8>,
) {
    let mut eps = None;
    let mut last: Option<(i32, State)> = None;
    for spec in specs {
        if spec.name == "durable_outflow" {
            if add_months(t0, 24) > until {
                out.push(-1);
                continue;
            }
            let eps = eps.get_or_insert_with(|| episodes(h.assistance.of(p), gap_days));
            out.push(i8::from(durable_outflow(eps, t0)));
            continue;
        }
        let day = add_months(t0, spec.horizon);
        if day > until {
            out.push(-1);
            continue;
        }
        let state = match last {
            Some((d, s)) if d == day => s,
            _ => {
                let s = state_at(h, p, day);
                last = Some((day, s));
                s
            }
        };
        let yes = match spec.name {
            "werk" | "werk_placebo" => state == State::Werk,
            "off_assistance" => !matches!(state, State::Bijstand | State::BijstandMetWerk),
            "bijstand_met_werk" => state == State::BijstandMetWerk,
            "bijstand" => state == State::Bijstand,
            "ww" => state == State::Ww,
            _ => state == State::Overig,
        };
        out.push(i8::from(yes));
    }
}
