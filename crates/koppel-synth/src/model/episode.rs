//! Assistance stretches, stepped month by month.
//!
//! A stretch starts when the person enters assistance and ends when they
//! leave it (for work or otherwise), reach pension age, or die or emigrate;
//! moves to another municipality and administrative re-registrations split
//! the spell but not the stretch.
//!
//! Each month of a stretch draws its random numbers from its own streams
//! ([`crate::rng::keyed`], keyed by the stretch start and the month): one
//! for trajectory starts, one for work alongside assistance, one for exits.
//! Whatever a trajectory changes, the other draws of that month and of every
//! later month stay the same, so a counterfactual run with one trajectory
//! switched off differs from the factual run only through what that
//! trajectory did (see [`super::counterfactual`]).
//!
//! **Selection into trajectories works only through what the registers and
//! uploads show** on the first day of the calendar month of the start: the segment on the client's file (the
//! segment of the latest-starting trajectory that ran in the 24 months
//! before; none when there is none), age under 27, non-European origin, an
//! episode shorter than six months, and any work in the 24 months before.
//! Nothing hidden (the person's latent distance to work, their current
//! segment when no trajectory recorded it) enters the choice, so comparing
//! like with like on those characteristics recovers the effects; comparing
//! participants with everyone does not, because wage subsidy, job coaching
//! and trial placements go to clients close to work. A trajectory of the same
//! instrument is never started while one ran in the 12 months before.
//! Trajectories may run alongside each other; each changes the exit hazards
//! from the month after its start.

use crate::date::{completed_months, month_start};
use crate::rng::{keyed, Stream};

use super::*;

/// Hazard multipliers are kept within this range however many trajectories
/// run at once.
const MULTIPLIER_RANGE: (f64, f64) = (0.25, 4.0);

/// A trajectory running in the current stretch.
#[derive(Clone, Debug)]
struct Running {
    /// Index in `Sim::trajectories`.
    idx: usize,
    kind: InstrumentKind,
    /// Planned last day.
    planned: Day,
    /// How it ends when the planned end passes (drawn at the start).
    reason: TrajectoryEnd,
    /// First month start from which it changes the hazards.
    effective: Day,
}

/// State of one assistance stretch.
struct Episode {
    kind: BenefitType,
    /// The client's current segment (written on new trajectories).
    seg: Segment,
    /// First day of the stretch.
    t: Day,
    /// First day of the episode under the merge rule of docs/definitions.md (a return within 31
    /// days continues the previous episode): the duration clients show.
    episode_start: Day,
    career_end: Day,
    spell_start: Day,
    month: i32,
    young: bool,
    migrant: bool,
    running: Vec<Running>,
    /// Post-trajectory multipliers of the work hazard, with their last day.
    after: Vec<(f64, Day)>,
    side_job: Option<usize>,
}

/// What the client's file shows on a day (the selection characteristics).
struct File {
    /// Segment of the latest trajectory in the 24 months before (index
    /// into [`Segment::ALL`]), or 4 when none.
    segment: usize,
    young: bool,
    short_episode: bool,
    worked: bool,
}

impl<'a> Sim<'a> {
    /// Run one assistance stretch from day `t`; returns the next day and state.
    pub(super) fn assistance(&mut self, t: Day, from_ww: bool, career_end: Day) -> (Day, State) {
        if t >= career_end {
            self.topup_job = None;
            return (career_end, State::Out);
        }
        self.episode_no += 1;
        let age = self.age(t);
        let kind = if from_ww && age >= 60.0 && self.rng.chance(0.5) {
            BenefitType::Ioaw
        } else if self.self_employed_last && age >= 55.0 && self.rng.chance(0.5) {
            BenefitType::Ioaz
        } else {
            BenefitType::Bijstand
        };
        let seg = self.segment(t);
        let mut ep = Episode {
            kind,
            seg,
            t,
            episode_start: self.episode_start(t),
            career_end,
            spell_start: t,
            month: 0,
            young: age < 27.0,
            migrant: self.person.origin == Origin::OutsideEurope,
            running: Vec::new(),
            after: Vec::new(),
            side_job: self.topup_job.take(),
        };
        loop {
            if let Some(done) = self.month(&mut ep) {
                return done;
            }
            ep.month += 1;
        }
    }

    /// First day of the episode that a stretch starting on `t` belongs to.
    fn episode_start(&self, t: Day) -> Day {
        let mut start = t;
        for b in self.benefits.iter().rev() {
            let assist = matches!(
                b.kind,
                BenefitType::Bijstand | BenefitType::Ioaw | BenefitType::Ioaz
            );
            if assist && b.start < start && b.end.is_some_and(|e| e >= start - 32) {
                start = b.start;
            }
        }
        start
    }

    /// Run `f` with the month stream `part` of the current stretch month in
    /// place of the person's main stream.
    fn with_stream<R>(&mut self, key: u64, part: u64, f: impl FnOnce(&mut Self) -> R) -> R {
        let mut r = keyed(self.p.seed, self.person.index, Stream::Month, key ^ part);
        std::mem::swap(&mut self.rng, &mut r);
        let out = f(self);
        std::mem::swap(&mut self.rng, &mut r);
        out
    }

    /// One month of a stretch; `Some` when the stretch ends in it.
    fn month(&mut self, ep: &mut Episode) -> Option<(Day, State)> {
        let m_start = add_months(ep.t, ep.month);
        let m_end = add_months(ep.t, ep.month + 1); // exclusive
        if m_end > ep.career_end {
            return Some(self.end_at_career(ep));
        }
        if self.horizon.is_some_and(|h| m_start > h) {
            // Counterfactual run past its last horizon: leave everything open.
            let end = self.clip(OPEN - 1);
            self.close_running(ep, end, |_| TrajectoryEnd::Other);
            self.close_side_job(&mut ep.side_job, end);
            self.push_benefit(ep.kind, ep.spell_start, end, Some(self.muni), None);
            return Some((ep.career_end, State::Out));
        }
        self.finish_due(ep, m_start);
        let key = ((i64::from(ep.t) as u64) << 20) ^ ((ep.month as u64) << 2);
        self.with_stream(key, 0, |s| s.maybe_start(ep, m_start, m_end));
        self.with_stream(key, 1, |s| s.side_work(ep, m_start));
        self.with_stream(key, 2, |s| s.exits(ep, m_start, m_end))
    }

    /// Pension age or the end of life/window inside this month.
    fn end_at_career(&mut self, ep: &mut Episode) -> (Day, State) {
        let at_aow = ep.career_end == self.aow && self.aow < self.stop;
        let (end, reason) = if at_aow {
            (self.aow - 1, Some(BenefitEnd::Pension))
        } else {
            (self.clip(OPEN - 1), None)
        };
        self.close_running(ep, end, |_| TrajectoryEnd::Other);
        self.close_side_job(&mut ep.side_job, end);
        self.push_benefit(ep.kind, ep.spell_start, end, Some(self.muni), reason);
        (ep.career_end, State::Out)
    }

    /// Close the trajectories whose planned end passed; their after-effect
    /// runs for six months (less when not completed).
    fn finish_due(&mut self, ep: &mut Episode, m_start: Day) {
        let mut i = 0;
        while i < ep.running.len() {
            if ep.running[i].planned >= m_start {
                i += 1;
                continue;
            }
            let r = ep.running.remove(i);
            self.close_trajectory(r.idx, r.planned, r.reason);
            let (_, after, _) = r.kind.effect(ep.seg, ep.young, ep.migrant);
            let mult = if r.reason == TrajectoryEnd::Completed {
                after
            } else {
                1.0 + (after - 1.0) * 0.3
            };
            ep.after.push((mult, add_months(r.planned, 6)));
        }
    }

    /// What the client's file shows on day `d`.
    fn file(&self, ep: &Episode, d: Day) -> File {
        let lookback = add_months(d, -24);
        let segment = self
            .trajectories
            .iter()
            .filter(|t| t.start < d && t.end.is_none_or(|e| e >= lookback))
            .max_by_key(|t| (t.start, t.end.unwrap_or(OPEN)))
            .map_or(4, |t| t.segment as usize);
        File {
            segment,
            young: completed_months(self.person.birth, d) < 27 * 12,
            short_episode: completed_months(ep.episode_start, d) < 6,
            worked: self
                .jobs
                .iter()
                .any(|j| j.start < d && j.end.is_none_or(|e| e >= lookback)),
        }
    }

    /// Whether an instrument ran in the 12 months before `d` (or runs).
    fn had_recently(&self, instrument: u16, d: Day) -> bool {
        let since = add_months(d, -12);
        self.trajectories
            .iter()
            .any(|t| t.instrument == instrument && t.start < d && t.end.is_none_or(|e| e >= since))
    }

    /// Selection weight of every catalogue instrument for a client whose file
    /// shows `f` on day `d`.
    fn instrument_weights(&self, f: &File, d: Day) -> Vec<f64> {
        use InstrumentKind::*;
        let migrant = self.person.origin == Origin::OutsideEurope;
        self.p
            .instruments
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if self.had_recently(i as u16, d) {
                    return 0.0;
                }
                let mut x = k.weights()[f.segment];
                x *= match k {
                    Schooling if f.young => 3.5,
                    Guidance if f.young => 3.5,
                    Guidance => 0.3,
                    Language if migrant => 5.0,
                    Language => 0.1,
                    WorkFirst if f.short_episode => 3.0,
                    _ => 1.0,
                };
                if f.worked {
                    x *= match k {
                        WageSubsidy => 2.5,
                        JobCoaching | TrialPlacement => 1.5,
                        SocialActivation => 0.4,
                        Volunteering => 0.5,
                        _ => 1.0,
                    };
                }
                x
            })
            .collect()
    }

    /// Maybe start a trajectory this month (effective from next month).
    fn maybe_start(&mut self, ep: &mut Episode, m_start: Day, m_end: Day) {
        let start = m_start + self.rng.int(0, i64::from(m_end - m_start - 1)) as Day;
        let (u_start, u_pick, u_months, u_end) = (
            self.rng.unit(),
            self.rng.unit(),
            self.rng.unit(),
            self.rng.unit(),
        );
        let provider = (self.rng.bits() % 4) as u8;
        if tune::TRAJECTORY.iter().all(|rate| u_start >= *rate) {
            return; // no start whatever the file shows (saves reading it)
        }
        // The file as it stands on the first day of the calendar month of
        // the start (the day a monthly comparison measures it on).
        let f = self.file(ep, month_start(start));
        if u_start >= tune::TRAJECTORY[f.segment] {
            return;
        }
        let w = self.instrument_weights(&f, start);
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            return;
        }
        let mut x = u_pick * total;
        let idx = w
            .iter()
            .position(|wi| {
                let hit = x < *wi;
                x -= wi;
                hit
            })
            .unwrap_or_else(|| w.iter().rposition(|wi| *wi > 0.0).unwrap_or(0));
        let kind = self.p.instruments[idx];
        let (lo, hi) = kind.months();
        let months = lo + ((u_months * (hi - lo + 1) as f64) as i64).min(hi - lo);
        let planned = add_months(start, months as i32) - 1;
        let reason = if u_end < 0.7 {
            TrajectoryEnd::Completed
        } else if u_end < 0.7 + 0.3 * 0.85 {
            TrajectoryEnd::NotCompleted
        } else {
            TrajectoryEnd::Other
        };
        self.traj_seq += 1;
        if self.suppress == Some(self.traj_seq) {
            return;
        }
        self.trajectories.push(Trajectory {
            seq: self.traj_seq,
            municipality: self.muni,
            instrument: idx as u16,
            provider,
            start,
            end: None,
            end_reason: TrajectoryEnd::Ongoing,
            segment: ep.seg,
        });
        self.traj_episode.push(self.episode_no);
        ep.running.push(Running {
            idx: self.trajectories.len() - 1,
            kind,
            planned,
            reason,
            effective: m_end,
        });
    }

    /// Part-time work alongside assistance starts or stops.
    fn side_work(&mut self, ep: &mut Episode, m_start: Day) {
        let si = ep.seg as usize;
        match ep.side_job {
            None if self.rng.chance(tune::SIDE_JOB[si]) => {
                let start = m_start + self.rng.int(0, 27) as Day;
                let sector = self.sector(true);
                let idx = self.push_job(start, OPEN, false, Contract::Flex, sector, true, true);
                ep.side_job = Some(idx);
            }
            Some(_) if self.rng.chance(0.05) => {
                let day = m_start + self.rng.int(0, 27) as Day;
                self.close_side_job(&mut ep.side_job, day);
            }
            _ => {}
        }
    }

    /// Exit hazards of this month: (to work, other, multiplier of other exits).
    fn hazards(&self, ep: &Episode, m_start: Day) -> (f64, f64, f64) {
        let si = ep.seg as usize;
        let dur = match ep.month {
            m if m < 6 => 1.5,
            m if m < 24 => 1.0,
            m if m < 60 => 0.8,
            _ => 0.7,
        };
        let (mut w_mult, mut o_mult) = (1.0, 1.0);
        for r in ep.running.iter().filter(|r| r.effective <= m_start) {
            let (during, _, other) = r.kind.effect(ep.seg, ep.young, ep.migrant);
            w_mult *= during;
            o_mult *= other;
        }
        for (after, until) in &ep.after {
            if m_start <= *until {
                w_mult *= after;
            }
        }
        let (lo, hi) = MULTIPLIER_RANGE;
        let (w_mult, o_mult) = (w_mult.clamp(lo, hi), o_mult.clamp(lo, hi));
        let side = if ep.side_job.is_some() { 1.6 } else { 1.0 };
        let age_f = if self.age(m_start) >= 55.0 { 0.5 } else { 1.0 };
        let h_work = tune::EXIT_WORK[si]
            * dur
            * w_mult
            * side
            * age_f
            * self.traits.employability.sqrt().min(1.3);
        let h_other = tune::EXIT_OTHER[si] * dur * o_mult;
        (h_work, h_other, o_mult)
    }

    /// Exits of this month: a move, a re-registration, or leaving assistance.
    fn exits(&mut self, ep: &mut Episode, m_start: Day, m_end: Day) -> Option<(Day, State)> {
        let (h_work, h_other, o_mult) = self.hazards(ep, m_start);
        let h_move = 0.0015;
        let h_admin = 0.004;
        let total = h_work + h_other + h_move + h_admin;
        let u = self.rng.unit();
        if u >= 1.0 - (-total).exp() {
            return None;
        }
        let day = m_start + self.rng.int(0, i64::from(m_end - m_start - 1)) as Day;
        let x = self.rng.unit() * total;
        if x < h_move {
            if self.p.municipalities.len() > 1 {
                self.move_away(ep, day);
            }
            None
        } else if x < h_move + h_admin {
            // Administrative re-registration: short gap, same episode.
            self.push_benefit(
                ep.kind,
                ep.spell_start,
                day,
                Some(self.muni),
                Some(BenefitEnd::Other),
            );
            ep.spell_start = day + 1 + self.rng.int(0, 20) as Day;
            if ep.spell_start >= ep.career_end {
                let end = self.clip(OPEN - 1);
                self.close_running(ep, end, |_| TrajectoryEnd::Other);
                self.close_side_job(&mut ep.side_job, end);
                return Some((ep.career_end, State::Out));
            }
            None
        } else {
            let to_work = x < h_move + h_admin + h_work;
            Some(self.leave(ep, day, to_work, o_mult))
        }
    }

    /// The spell ends on `day` and continues the next day in another
    /// municipality: same episode, trajectories end as `moved`.
    fn move_away(&mut self, ep: &mut Episode, day: Day) {
        self.push_benefit(
            ep.kind,
            ep.spell_start,
            day,
            Some(self.muni),
            Some(BenefitEnd::Moved),
        );
        self.close_running(ep, day, |_| TrajectoryEnd::Moved);
        let mut other = self.rng.below(self.p.municipalities.len() - 1) as u16;
        if other >= self.muni {
            other += 1;
        }
        self.muni = other;
        self.person.municipality = other;
        ep.spell_start = day + 1;
    }

    /// Leave assistance on `day`, for work or for another reason.
    fn leave(&mut self, ep: &mut Episode, day: Day, to_work: bool, o_mult: f64) -> (Day, State) {
        let reason = if to_work {
            BenefitEnd::Work
        } else {
            let age_now = self.age(day);
            let edu = if age_now < 27.0 {
                0.3
            } else if age_now < 45.0 {
                0.08
            } else {
                0.0
            };
            [
                BenefitEnd::PartnerIncome,
                BenefitEnd::Education,
                BenefitEnd::Enforcement,
                BenefitEnd::Other,
            ][self.rng.weighted(&[0.28, edu, 0.15 * o_mult, 0.45])]
        };
        self.push_benefit(ep.kind, ep.spell_start, day, Some(self.muni), Some(reason));
        let completed = to_work && self.rng.chance(0.6);
        self.close_running(ep, day, |_| {
            if completed {
                TrajectoryEnd::Completed
            } else {
                TrajectoryEnd::NotCompleted
            }
        });
        if to_work {
            if let Some(i) = ep.side_job {
                self.ww_credit = day - self.jobs[i].start;
            }
        }
        self.close_side_job(&mut ep.side_job, day);
        let next = day + 1;
        let state = match reason {
            BenefitEnd::Work => State::Work {
                after_assistance: true,
            },
            BenefitEnd::Enforcement => State::NonWork {
                boost: tune::REENTRY_ENFORCEMENT,
                until: next + 183,
                search: tune::EXIT_SEARCH,
            },
            BenefitEnd::Other => State::NonWork {
                boost: tune::REENTRY_OTHER,
                until: next + 183,
                search: tune::EXIT_SEARCH,
            },
            BenefitEnd::PartnerIncome => State::NonWork {
                boost: tune::REENTRY_PARTNER,
                until: next + 365,
                search: tune::LEAVER_SEARCH,
            },
            _ => State::NonWork {
                boost: 1.0,
                until: next,
                search: 1.0,
            },
        };
        (next, state)
    }

    /// End every running trajectory on `day`; one that was to start after
    /// `day` never started and is removed.
    fn close_running(
        &mut self,
        ep: &mut Episode,
        day: Day,
        reason: impl Fn(&Running) -> TrajectoryEnd,
    ) {
        for r in std::mem::take(&mut ep.running).into_iter().rev() {
            if self.trajectories[r.idx].start > day {
                debug_assert_eq!(r.idx + 1, self.trajectories.len());
                self.trajectories.pop();
                self.traj_episode.pop();
            } else {
                self.close_trajectory(r.idx, day, reason(&r));
            }
        }
    }

    /// End trajectory `i` on `day` (ongoing when past the window).
    fn close_trajectory(&mut self, i: usize, day: Day, reason: TrajectoryEnd) {
        let to = self.p.to;
        let tr = &mut self.trajectories[i];
        let end = day.max(tr.start);
        if end == OPEN || end > to {
            tr.end = None;
            tr.end_reason = TrajectoryEnd::Ongoing;
        } else {
            tr.end = Some(end);
            tr.end_reason = reason;
        }
    }
}
