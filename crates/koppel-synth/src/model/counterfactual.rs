//! The truth about trajectory effects: every treated trajectory start is
//! simulated a second time with that trajectory switched off.
//!
//! **Treated** (the definition the effect stage uses): a start of instrument
//! X on a day in the evaluation period while the person is on assistance
//! (an episode under the merge rule of the link stage covers the start
//! date), with no trajectory of X running at any time in the 12 months
//! before. The factual run records a snapshot of the whole simulation at the
//! start of every assistance stretch that may hold such a start; the
//! counterfactual run continues from that snapshot with the same random
//! streams and the one trajectory switched off, up to 24 months after its
//! start date. The person can still start other trajectories (and X again
//! later): the effect is that of starting X now rather than not now, as a
//! sequential comparison measures it.
//!
//! Outcomes at start + k months (k = 6, 12, 18, 24, only when that date lies
//! within the window), by the state rules of the analysis file: gone (dead
//! or emigrated before that day) → `overig`; assistance spell and job → `bijstand_met_werk`;
//! assistance spell → `bijstand`; job → `werk`; WW → `ww`; else `overig`.
//! `werk` is the state `werk`; `off_assistance` is any state but `bijstand`
//! and `bijstand_met_werk`.

use crate::date::{completed_months, month_start};

use super::*;

/// Horizons of the truth, in months after the start date.
pub const TRUTH_HORIZONS: [i32; 4] = [6, 12, 18, 24];

/// One treated trajectory start with its outcomes in both worlds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreatedStart {
    /// Catalogue index of the instrument.
    pub instrument: u16,
    /// Age band on the first day of the month of the start (index into the `<27`, `27-34`, `35-44`,
    /// `45-54`, `55+` bands, in completed years).
    pub age_band: u8,
    /// Sex.
    pub sex: Sex,
    /// Episode duration band on the first day of the month of the start
    /// (index into `<0.5`, `0.5-1`,
    /// `1-2`, `2-3`, `3-4`, `4-5`, `>5` years, in completed months).
    pub duration_band: u8,
    /// Segment of the latest trajectory in the 24 months before the first
    /// day of the month of the start (`None`: no trajectory, `unknown` in the analysis file).
    pub segment: Option<Segment>,
    /// Per horizon of [`TRUTH_HORIZONS`] (when within the window):
    /// `[werk, off_assistance]` with the trajectory, then without.
    pub outcomes: [Option<[[bool; 2]; 2]>; 4],
}

/// A copy of the simulation at the start of an assistance stretch.
struct Snapshot<'a> {
    episode: u32,
    t: Day,
    state: State,
    career_end: Day,
    sim: Sim<'a>,
}

/// Collects snapshots during the factual run.
pub(super) struct Recorder<'a> {
    period: (Day, Day),
    snapshots: Vec<Snapshot<'a>>,
}

impl<'a> Recorder<'a> {
    /// Records the snapshots of starts in `period` (inclusive).
    fn new(period: (Day, Day)) -> Recorder<'a> {
        Recorder {
            period,
            snapshots: Vec::new(),
        }
    }

    /// The run of `sim` (the factual run recorded) with its trajectory `i`
    /// switched off, until 24 months after the trajectory's start; `None`
    /// without a snapshot of the trajectory's episode.
    fn without(&self, sim: &Sim<'a>, i: usize) -> Option<Sim<'a>> {
        let tr = &sim.trajectories[i];
        let snap = self
            .snapshots
            .iter()
            .find(|s| s.episode == sim.traj_episode[i])?;
        Some(counterfactual(snap, tr.seq, add_months(tr.start, 24)))
    }

    /// Keep a copy of `sim` if the stretch starting on `t` can hold a start
    /// in the evaluation period.
    pub(super) fn offer(&mut self, t: Day, state: State, career_end: Day, sim: &Sim<'a>) {
        if t <= self.period.1 && career_end > self.period.0 {
            self.snapshots.push(Snapshot {
                episode: sim.episode_no + 1,
                t,
                state,
                career_end,
                sim: sim.clone(),
            });
        }
    }
}

/// Generate one person's history and, for every treated trajectory start
/// with its start date in `period` (inclusive), the outcomes with and
/// without it. Pure function of `(params, index, period)`; the history is
/// exactly that of [`generate_person`].
pub fn generate_person_with_truth(
    params: &ModelParams,
    index: u64,
    period: (Day, Day),
) -> (History, Vec<TreatedStart>) {
    let mut rng = stream(params.seed, index, Stream::Person);
    let person = demographics(params, index, &mut rng);
    let mut sim = Sim::new(params, person, rng);
    let mut recorder = Recorder::new(period);
    sim.run(Some(&mut recorder));
    let episodes = assistance_episodes(&sim.benefits);
    let mut treated = Vec::new();
    for (i, tr) in sim.trajectories.iter().enumerate() {
        if tr.start < period.0 || tr.start > period.1 {
            continue;
        }
        let Some(&(ep_start, _)) = episodes
            .iter()
            .find(|&&(s, e)| s <= tr.start && tr.start <= e)
        else {
            continue;
        };
        let since = add_months(tr.start, -12);
        let repeat = sim.trajectories.iter().any(|o| {
            o.instrument == tr.instrument && o.start < tr.start && o.end.is_none_or(|e| e >= since)
        });
        if repeat {
            continue;
        }
        let Some(cf) = recorder.without(&sim, i) else {
            continue;
        };
        let mut outcomes = [None; 4];
        for (k, months) in TRUTH_HORIZONS.iter().enumerate() {
            let h = add_months(tr.start, *months);
            if h <= params.to {
                outcomes[k] = Some([sim.outcome(h), cf.outcome(h)]);
            }
        }
        let tc = month_start(tr.start);
        treated.push(TreatedStart {
            instrument: tr.instrument,
            age_band: age_band(completed_months(sim.person.birth, tc) / 12),
            sex: sim.person.sex,
            duration_band: duration_band(completed_months(ep_start, tc)),
            segment: recorded_segment(&sim.trajectories, tc),
            outcomes,
        });
    }
    drop(recorder);
    (sim.finish(), treated)
}

/// Continue from `snap` with trajectory `seq` switched off until `horizon`.
fn counterfactual<'a>(snap: &Snapshot<'a>, seq: u32, horizon: Day) -> Sim<'a> {
    let mut sim = snap.sim.clone();
    sim.suppress = Some(seq);
    sim.horizon = Some(horizon);
    sim.drive(snap.t, snap.state, snap.career_end, None);
    sim
}

/// Assistance episodes: spells of the assistance types merged across gaps
/// of at most 31 days (open ends as [`OPEN`]).
fn assistance_episodes(benefits: &[BenefitSpell]) -> Vec<(Day, Day)> {
    let mut spells: Vec<(Day, Day)> = benefits
        .iter()
        .filter(|b| {
            matches!(
                b.kind,
                BenefitType::Bijstand | BenefitType::Ioaw | BenefitType::Ioaz
            )
        })
        .map(|b| (b.start, b.end.unwrap_or(OPEN)))
        .collect();
    spells.sort_unstable();
    let mut episodes: Vec<(Day, Day)> = Vec::new();
    for (s, e) in spells {
        match episodes.last_mut() {
            Some(last) if last.1 == OPEN || i64::from(s) - i64::from(last.1) - 1 <= 31 => {
                last.1 = last.1.max(e)
            }
            _ => episodes.push((s, e)),
        }
    }
    episodes
}

/// Segment of the latest-starting trajectory that ran in the 24 months
/// before `d`.
fn recorded_segment(trajectories: &[Trajectory], d: Day) -> Option<Segment> {
    let lookback = add_months(d, -24);
    trajectories
        .iter()
        .filter(|t| t.start < d && t.end.is_none_or(|e| e >= lookback))
        .max_by_key(|t| (t.start, t.end.unwrap_or(OPEN)))
        .map(|t| t.segment)
}

/// Index of the age band of an age in completed years.
fn age_band(years: i32) -> u8 {
    match years {
        y if y < 27 => 0,
        y if y < 35 => 1,
        y if y < 45 => 2,
        y if y < 55 => 3,
        _ => 4,
    }
}

/// Index of the duration band of a duration in completed months.
fn duration_band(months: i32) -> u8 {
    match months {
        m if m < 6 => 0,
        m if m < 12 => 1,
        _ => (months / 12 + 1).min(6) as u8,
    }
}

impl Sim<'_> {
    /// `[werk, off_assistance]` on day `h` by the state rules.
    fn outcome(&self, h: Day) -> [bool; 2] {
        // Gone from the day after death or emigration.
        let gone = self.person.death.is_some_and(|d| d < h)
            || self.person.emigration.is_some_and(|d| d < h);
        if gone {
            return [false, true];
        }
        let covers = |s: Day, e: Option<Day>| s <= h && e.is_none_or(|e| e >= h);
        let assist = self.benefits.iter().any(|b| {
            matches!(
                b.kind,
                BenefitType::Bijstand | BenefitType::Ioaw | BenefitType::Ioaz
            ) && covers(b.start, b.end)
        });
        let work = self.jobs.iter().any(|j| covers(j.start, j.end));
        [work && !assist, !assist]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::from_ymd;

    fn params() -> ModelParams {
        ModelParams {
            seed: 4,
            from: from_ymd(2015, 1, 1),
            to: from_ymd(2024, 12, 31),
            municipalities: crate::municipalities::select(5),
            instruments: InstrumentKind::of_catalogue(&crate::Catalogue::builtin()),
        }
    }

    /// The counterfactual differs from the factual run only through the
    /// trajectory switched off: resuming a snapshot with nothing switched off
    /// gives the factual run back, and switching one off changes nothing
    /// before its start.
    #[test]
    fn resumed_runs_share_the_random_streams_of_the_factual_run() {
        let p = params();
        let (mut resumed, mut switched) = (0, 0);
        for index in 0..4_000 {
            let mut rng = stream(p.seed, index, Stream::Person);
            let person = demographics(&p, index, &mut rng);
            let mut sim = Sim::new(&p, person, rng);
            let mut rec = Recorder::new((p.from, p.to));
            sim.run(Some(&mut rec));
            let not_aow = |b: &&BenefitSpell| b.kind != BenefitType::Aow;
            for snap in &rec.snapshots {
                let again = counterfactual(snap, u32::MAX, OPEN - 1);
                assert_eq!(again.jobs, sim.jobs, "person {index}");
                assert_eq!(again.trajectories, sim.trajectories, "person {index}");
                assert!(
                    again
                        .benefits
                        .iter()
                        .filter(not_aow)
                        .eq(sim.benefits.iter().filter(not_aow)),
                    "person {index}"
                );
                resumed += 1;
            }
            for (i, tr) in sim.trajectories.iter().enumerate() {
                let Some(cf) = rec.without(&sim, i) else {
                    continue;
                };
                assert!(cf.trajectories.iter().all(|t| t.seq != tr.seq));
                let before = |b: &&BenefitSpell| b.end.is_some_and(|e| e < tr.start);
                assert!(
                    cf.benefits
                        .iter()
                        .filter(before)
                        .eq(sim.benefits.iter().filter(before)),
                    "person {index}"
                );
                switched += 1;
            }
        }
        assert!(resumed > 100 && switched > 100, "{resumed} {switched}");
    }

    #[test]
    fn bands_match_the_analysis_file() {
        assert_eq!(
            [0, 26, 27, 34, 35, 44, 45, 54, 55, 70].map(age_band),
            [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        );
        assert_eq!(
            [0, 5, 6, 11, 12, 23, 24, 35, 36, 47, 48, 59, 60, 200].map(duration_band),
            [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
        );
    }

    #[test]
    fn episodes_merge_gaps_of_at_most_31_days() {
        let spell = |s: Day, e: Option<Day>| BenefitSpell {
            kind: BenefitType::Bijstand,
            start: s,
            end: e,
            municipality: Some(0),
            end_reason: None,
        };
        let eps = assistance_episodes(&[
            spell(100, Some(200)),
            spell(232, Some(300)), // gap 31: merged
            spell(333, None),      // gap 32: new episode
        ]);
        assert_eq!(eps, vec![(100, 300), (333, OPEN)]);
    }
}
