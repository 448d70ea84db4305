//! The life-course model: demographics, careers, benefits, trajectories.
//!
//! Each person is simulated independently from their own random stream
//! ([`crate::rng::stream`]), from age 18 (or 20 years before the window,
//! whichever is later) to the end of the window, and the result is cut to
//! what a register extract of the window would hold.
//!
//! States: *work* (a job spell), *non-work* (study, care, partner income),
//! *WW* (after losing a job held at least three months), *assistance*
//! (`bijstand`, or `ioaw`/`ioaz` for older people) and, from age 67, AOW.
//! Assistance episodes are stepped month by month: the exit hazard depends on
//! the client's segment (werk / perspectief / meedoen / niet ingedeeld), the
//! duration so far, and any re-integration trajectory running or recently
//! finished. Each instrument changes the hazard of leaving for work
//! differently and differently per group (young people, migrants, segment),
//! so that the analysis stages have a real, modest effect to find. Who
//! starts which trajectory depends only on what the registers and uploads
//! show (see [`episode`]); [`counterfactual`] re-runs each treated start
//! with the trajectory switched off to measure the true effect.
//!
//! Leaving assistance: for work (a new job, often flex and short; some
//! short-hours jobs are topped up by a new episode, assistance with work),
//! or for other reasons, after which the person looks for work with a raised
//! job-finding rate while the assistance hazard stays raised for six months
//! (enforcement, other reasons). A return within 31 days merges with the old
//! episode under docs/definitions.md; later returns within six months are the
//! re-entries of docs/calibration.md (see the crate docs for the calibration).

use koppel_pseudonym::bsn::{complete_with_check_digit, synthetic_bsn, Bsn};

use crate::date::{add_months, add_years, Day};
use crate::municipalities::Municipality;
use crate::rng::{stream, Rand, Stream};
use crate::types::*;

mod counterfactual;
mod episode;

pub use counterfactual::{generate_person_with_truth, TreatedStart, TRUTH_HORIZONS};

/// Sentinel end date for a spell still running at the end of the window.
const OPEN: Day = Day::MAX;

/// Fixed inputs of the model for one run.
#[derive(Clone, Debug)]
pub struct ModelParams {
    /// Master seed.
    pub seed: u64,
    /// First day of the window.
    pub from: Day,
    /// Last day of the window (the extract date).
    pub to: Day,
    /// The municipalities persons live in.
    pub municipalities: &'static [Municipality],
    /// Instrument kind of each catalogue entry (by catalogue index).
    pub instruments: Vec<InstrumentKind>,
}

/// How the model treats an instrument (looked up by catalogue code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// Wage-cost subsidy.
    WageSubsidy,
    /// Job coaching.
    JobCoaching,
    /// Work-experience placement.
    WorkExperience,
    /// Trial placement.
    TrialPlacement,
    /// Short training.
    Training,
    /// Vocational education.
    Schooling,
    /// Social activation.
    SocialActivation,
    /// Volunteering.
    Volunteering,
    /// Coaching towards work.
    Coaching,
    /// Individual guidance (young people).
    Guidance,
    /// Basic services.
    BasicServices,
    /// Language trajectory.
    Language,
    /// Work first.
    WorkFirst,
    /// Any instrument the model has no specific rules for.
    Generic,
}

impl InstrumentKind {
    /// The kind for a catalogue code (unknown codes are [`InstrumentKind::Generic`]).
    pub fn from_code(code: &str) -> InstrumentKind {
        use InstrumentKind::*;
        match code {
            "loonkostensubsidie" => WageSubsidy,
            "jobcoaching" => JobCoaching,
            "werkervaringsplek" => WorkExperience,
            "proefplaatsing" => TrialPlacement,
            "training" => Training,
            "scholing" => Schooling,
            "sociale_activering" => SocialActivation,
            "vrijwilligerswerk" => Volunteering,
            "coaching_naar_werk" => Coaching,
            "trajectbegeleiding" => Guidance,
            "basisdienstverlening" => BasicServices,
            "taal_en_ontwikkeling" => Language,
            "work_first" => WorkFirst,
            _ => Generic,
        }
    }

    /// The kind of every instrument of `catalogue`, in catalogue order
    /// (what [`ModelParams::instruments`] holds).
    pub fn of_catalogue(catalogue: &crate::Catalogue) -> Vec<InstrumentKind> {
        catalogue
            .instruments
            .iter()
            .map(|i| InstrumentKind::from_code(&i.code))
            .collect()
    }

    /// Selection weight by the segment on the client's file (werk,
    /// perspectief, meedoen, niet ingedeeld, none recorded): see
    /// [`episode`] for what the file holds.
    fn weights(self) -> [f64; 5] {
        use InstrumentKind::*;
        match self {
            WageSubsidy => [3.0, 4.0, 0.3, 1.0, 1.5],
            JobCoaching => [2.0, 3.0, 0.3, 0.5, 1.2],
            WorkExperience => [1.0, 6.0, 1.0, 1.0, 2.0],
            TrialPlacement => [2.0, 2.0, 0.2, 0.5, 1.0],
            Training => [4.0, 5.0, 1.5, 2.0, 3.0],
            Schooling => [1.0, 2.5, 0.3, 0.5, 1.0],
            SocialActivation => [0.1, 1.0, 8.0, 1.0, 2.0],
            Volunteering => [0.1, 1.0, 4.0, 0.5, 1.0],
            Coaching => [5.0, 8.0, 4.0, 3.0, 5.0],
            Guidance => [0.3, 1.5, 1.5, 0.5, 1.0],
            BasicServices => [6.0, 3.0, 1.0, 4.0, 6.0],
            Language => [0.3, 1.5, 2.0, 1.0, 1.0],
            WorkFirst => [5.0, 1.0, 0.0, 2.0, 2.0],
            Generic => [1.0, 1.0, 1.0, 1.0, 1.0],
        }
    }

    /// Duration range in months.
    fn months(self) -> (i64, i64) {
        use InstrumentKind::*;
        match self {
            WageSubsidy | Schooling | SocialActivation => (6, 24),
            JobCoaching | WorkExperience | Guidance | Language => (3, 12),
            TrialPlacement | WorkFirst => (1, 3),
            Training => (1, 4),
            Volunteering => (3, 18),
            Coaching | Generic => (2, 9),
            BasicServices => (1, 6),
        }
    }

    /// Multipliers of the hazard of leaving for work, during the trajectory
    /// and in the six months after it, and of the hazard of other exits
    /// during it.
    fn effect(self, seg: Segment, young: bool, migrant: bool) -> (f64, f64, f64) {
        use InstrumentKind::*;
        match self {
            WageSubsidy => match seg {
                Segment::Perspectief => (2.4, 1.3, 1.0),
                Segment::Werk => (1.5, 1.2, 1.0),
                _ => (1.1, 1.1, 1.0),
            },
            JobCoaching => (1.5, 1.2, 1.0),
            WorkExperience if young => (1.1, 1.5, 1.0),
            WorkExperience => (0.9, 1.15, 1.0),
            TrialPlacement => (2.0, 1.2, 1.0),
            Training if seg == Segment::Werk => (1.0, 1.3, 1.0),
            Training => (1.0, 1.15, 1.0),
            Schooling if young => (0.5, 1.9, 0.8),
            Schooling => (0.5, 1.3, 0.8),
            SocialActivation => (0.8, 1.0, 0.9),
            Volunteering => (0.9, 1.05, 1.0),
            Coaching => (1.15, 1.1, 1.0),
            Guidance if young => (1.3, 1.3, 1.0),
            Guidance => (1.0, 1.0, 1.0),
            BasicServices => (1.05, 1.0, 1.0),
            Language if migrant => (0.8, 1.5, 1.0),
            Language => (0.9, 1.0, 1.0),
            WorkFirst if seg == Segment::Werk => (1.4, 1.1, 1.8),
            WorkFirst => (1.0, 1.0, 1.8),
            Generic => (1.0, 1.0, 1.0),
        }
    }
}

/// Tuning constants of the assistance dynamics (calibrated, see the crate
/// docs and `tests/calibration.rs`).
mod tune {
    /// Yearly hazard of entering assistance from non-work, per unit of risk.
    pub const ENTRY: f64 = 0.0185;
    /// Chance per unit of risk of entering assistance when WW runs out.
    pub const ENTRY_WW: f64 = 0.027;
    /// Chance per unit of risk of entering assistance when a job ends.
    pub const ENTRY_JOB: f64 = 0.012;
    /// Chance that a short-hours job after assistance is topped up by a new
    /// assistance episode while it continues (assistance with work).
    pub const TOP_UP: f64 = 0.33;
    /// Chance that a job found on leaving assistance, when it ends without a
    /// next job and gives WW rights, is followed by WW.
    pub const WW_TAKE_UP_AFTER_ASSISTANCE: f64 = 0.9;
    /// Monthly exit hazard to work, by segment (with [`EXIT_OTHER`]: a third
    /// of leavers leave for work, about 10–11% of the stock a year).
    pub const EXIT_WORK: [f64; 4] = [0.059, 0.027, 0.0053, 0.028];
    /// Monthly hazard of other exits, by segment.
    pub const EXIT_OTHER: [f64; 4] = [0.054, 0.028, 0.011, 0.029];
    /// Monthly hazard of starting part-time work alongside assistance.
    pub const SIDE_JOB: [f64; 4] = [0.048, 0.017, 0.005, 0.014];
    /// Monthly hazard of starting a trajectory, by the segment on the
    /// client's file (werk, perspectief, meedoen, niet ingedeeld, none).
    pub const TRAJECTORY: [f64; 5] = [0.11, 0.13, 0.08, 0.07, 0.12];
    /// Multiplier of the assistance hazard in the six months after an
    /// episode ended by enforcement. The `REENTRY_*` multipliers, the
    /// job-finding rates of leavers ([`EXIT_SEARCH`], [`LEAVER_SEARCH`]),
    /// [`TOP_UP`] and the short post-assistance jobs drive re-entry within six
    /// months (docs/calibration.md: 8–9% of leavers, 2.6–2.9% of the stock). Returns
    /// within 31 days merge with the old episode (docs/definitions.md) and do not count.
    pub const REENTRY_ENFORCEMENT: f64 = 0.9;
    /// Multiplier of the assistance hazard in the six months after an
    /// episode ended for other reasons.
    pub const REENTRY_OTHER: f64 = 0.6;
    /// Multiplier of the assistance hazard in the year after an episode
    /// ended because of a partner's income (1: none beyond the person's own
    /// risk).
    pub const REENTRY_PARTNER: f64 = 1.0;
    /// Multiplier of the job-finding rate of job losers, of those whose WW
    /// ran out and of those who left assistance for a partner's income.
    pub const LEAVER_SEARCH: f64 = 1.7;
    /// Multiplier of the job-finding rate after assistance ended by
    /// enforcement or for other reasons: many of them find work within
    /// months (state `werk` six months after outflow) rather than return.
    pub const EXIT_SEARCH: f64 = 2.6;
}

/// Person-level traits that drive the career.
#[derive(Clone)]
struct Traits {
    /// Relative risk of needing assistance.
    risk: f64,
    /// Relative chance of finding work.
    employability: f64,
    /// Latent distance to the labour market (higher: further).
    distance: f64,
}

/// Generate one person's history. Pure function of `(params, index)`.
pub fn generate_person(params: &ModelParams, index: u64) -> History {
    let mut rng = stream(params.seed, index, Stream::Person);
    let person = demographics(params, index, &mut rng);
    let mut sim = Sim::new(params, person, rng);
    sim.run(None);
    sim.finish()
}

/// The BSN of person `index`: mostly [`synthetic_bsn`], and for one person in
/// 64 a BSN with exactly one leading zero (so spreadsheets can drop it).
pub fn person_bsn(index: u64) -> Bsn {
    if index.is_multiple_of(64) && index / 64 < 900_000 {
        let k = index / 64;
        // Second digit non-zero: only one leading zero to lose. 482,711 is
        // coprime to 900,000, so this is injective in `k`.
        let body = 100_000 + (k * 482_711 + 654_321) % 900_000;
        let text = format!("0{body:06}");
        let mut first = [0u8; 8];
        first[..7].copy_from_slice(text.as_bytes());
        for d8 in 0..=9u8 {
            first[7] = b'0' + d8;
            if let Some(bsn) = complete_with_check_digit(first) {
                return bsn;
            }
        }
    }
    synthetic_bsn(index)
}

/// A valid BSN guaranteed not to belong to any of `persons` generated
/// persons (for the "BSN absent from the registers" fault).
pub fn absent_bsn(persons: u64, index: u64) -> Bsn {
    let room = 81_000_000u64.saturating_sub(persons).max(1);
    synthetic_bsn(persons + index % room)
}

fn age_years(birth: Day, at: Day) -> f64 {
    f64::from(at - birth) / 365.25
}

fn demographics(params: &ModelParams, index: u64, rng: &mut Rand) -> Person {
    let weights: Vec<f64> = params
        .municipalities
        .iter()
        .map(|m| m.population_k)
        .collect();
    let muni = rng.weighted(&weights);
    let m = &params.municipalities[muni];
    // Age bands: 0-17, 18-26, 27-34, 35-44, 45-54, 55-66, 67-79, 80-99.
    const BANDS: [(f64, f64); 8] = [
        (0.0, 18.0),
        (18.0, 27.0),
        (27.0, 35.0),
        (35.0, 45.0),
        (45.0, 55.0),
        (55.0, 67.0),
        (67.0, 80.0),
        (80.0, 100.0),
    ];
    let band_w: [f64; 8] = if m.is_small() {
        [0.18, 0.085, 0.075, 0.105, 0.14, 0.20, 0.165, 0.05]
    } else {
        [0.195, 0.115, 0.105, 0.12, 0.135, 0.16, 0.13, 0.04]
    };
    let band = BANDS[rng.weighted(&band_w)];
    let age = band.0 + rng.unit() * (band.1 - band.0);
    let mid = params.from + (params.to - params.from) / 2;
    let birth = mid - (age * 365.25) as Day;
    let sex = if rng.chance(0.505) { Sex::V } else { Sex::M };
    let big_city = m.population_k >= 500.0;
    let origin = match rng.weighted(if big_city {
        &[0.50, 0.13, 0.37]
    } else {
        &[0.78, 0.10, 0.12]
    }) {
        0 => Origin::Nl,
        1 => Origin::Europe,
        _ => Origin::OutsideEurope,
    };
    use Household::*;
    let household = if age < 18.0 {
        ChildAtHome
    } else {
        let (kinds, w): (&[Household], Vec<f64>) = if age < 27.0 {
            (
                &[
                    ChildAtHome,
                    Single,
                    CoupleNoChildren,
                    CoupleWithChildren,
                    SingleParent,
                    Institution,
                    Other,
                ],
                vec![0.55, 0.25, 0.12, 0.04, 0.02, 0.01, 0.01],
            )
        } else if age < 67.0 {
            let sp = if sex == Sex::V { 0.10 } else { 0.02 };
            (
                &[
                    Single,
                    SingleParent,
                    CoupleNoChildren,
                    CoupleWithChildren,
                    ChildAtHome,
                    Institution,
                    Other,
                ],
                vec![0.19, sp, 0.27, 0.42, 0.03, 0.01, 0.02],
            )
        } else {
            (
                &[
                    Single,
                    CoupleNoChildren,
                    Institution,
                    Other,
                    SingleParent,
                    CoupleWithChildren,
                ],
                vec![0.33, 0.57, 0.05, 0.03, 0.01, 0.01],
            )
        };
        kinds[rng.weighted(&w)]
    };
    let education = if age < 16.0 {
        Education::Unknown
    } else {
        let mut w = if age >= 55.0 {
            [0.30, 0.30, 0.20, 0.20]
        } else {
            [0.22, 0.38, 0.32, 0.08]
        };
        if origin == Origin::OutsideEurope {
            w = [w[0] * 1.6, w[1], w[2] * 0.6, w[3] * 2.5];
        }
        [
            Education::Low,
            Education::Middle,
            Education::High,
            Education::Unknown,
        ][rng.weighted(&w)]
    };
    // Death and emigration within the window, year by year.
    let mut death = None;
    let mut emigration = None;
    let mut t = params.from.max(birth);
    while t <= params.to && death.is_none() && emigration.is_none() {
        let a = age_years(birth, t);
        let q = (0.00004 * (0.095 * (a - 20.0)).exp()).min(0.3);
        let e = if (20.0..45.0).contains(&a) {
            if origin == Origin::Nl {
                0.004
            } else {
                0.015
            }
        } else {
            0.0015
        };
        let next = add_years(t, 1);
        let span = i64::from(next - t - 1);
        if rng.chance(q) {
            death = Some(t + rng.int(0, span) as Day);
        } else if rng.chance(e) {
            emigration = Some(t + rng.int(0, span) as Day);
        }
        t = next;
    }
    let clip = |d: Option<Day>| d.filter(|d| *d <= params.to);
    Person {
        index,
        bsn: person_bsn(index),
        birth,
        sex,
        household,
        origin,
        education,
        municipality: muni as u16,
        death: clip(death),
        emigration: clip(emigration),
    }
}

fn traits(p: &Person, rng: &mut Rand) -> Traits {
    let z = rng.normal();
    let mut risk = match p.household {
        Household::Single => 3.4,
        Household::SingleParent => 4.0,
        Household::CoupleNoChildren | Household::CoupleWithChildren => 0.35,
        Household::ChildAtHome => 0.6,
        Household::Institution | Household::Other => 1.5,
    };
    risk *= match p.origin {
        Origin::Nl => 1.0,
        Origin::Europe => 1.6,
        Origin::OutsideEurope => 2.6,
    };
    risk *= match p.education {
        Education::Low => 2.5,
        Education::Middle => 1.0,
        Education::High => 0.45,
        Education::Unknown => 2.0,
    };
    risk *= if p.sex == Sex::V { 1.1 } else { 0.95 };
    risk *= (0.8 * z).exp();
    let mut employability = match p.education {
        Education::High => 1.5,
        Education::Middle => 1.0,
        Education::Low | Education::Unknown => 0.65,
    };
    if p.origin == Origin::OutsideEurope {
        employability *= 0.75;
    }
    employability *= (-0.3 * z).exp();
    Traits {
        risk: risk.min(40.0),
        employability,
        distance: z,
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Not working, not on benefit; `boost` raises the assistance hazard until
    /// the given day, `search` multiplies the job-finding rate.
    NonWork { boost: f64, until: Day, search: f64 },
    /// Start a new job now (`after_assistance` jobs are more often flex and short).
    Work { after_assistance: bool },
    /// Unemployment benefit after a job of the given length (days).
    Ww { job_days: i32 },
    /// Enter assistance (`from_ww`: directly after WW ran out).
    Assistance { from_ww: bool },
    /// Left the labour market (disability); nothing further happens.
    Out,
}

#[derive(Clone)]
struct Sim<'a> {
    p: &'a ModelParams,
    person: Person,
    rng: Rand,
    traits: Traits,
    /// First day no longer simulated: death, emigration or the day after the window.
    stop: Day,
    /// Whether `stop` is death/emigration (spells end there) or the window end (spells stay open).
    life_ends: bool,
    /// 67th birthday.
    aow: Day,
    muni: u16,
    benefits: Vec<BenefitSpell>,
    jobs: Vec<Job>,
    trajectories: Vec<Trajectory>,
    job_seq: u32,
    traj_seq: u32,
    self_employed_last: bool,
    /// A job that continues into the next assistance episode (top-up).
    topup_job: Option<usize>,
    /// Days of work just before the next job that count towards WW rights
    /// (a job held alongside assistance when leaving it for work).
    ww_credit: i32,
    /// Number of assistance stretches begun so far (see [`episode`]).
    episode_no: u32,
    /// For each entry of `trajectories`, the stretch it started in.
    traj_episode: Vec<u32>,
    /// Counterfactual runs: the trajectory (by `seq`) switched off.
    suppress: Option<u32>,
    /// Counterfactual runs: stop simulating after this day.
    horizon: Option<Day>,
}

impl<'a> Sim<'a> {
    fn new(p: &'a ModelParams, person: Person, mut rng: Rand) -> Sim<'a> {
        let traits = traits(&person, &mut rng);
        let life_end = match (person.death, person.emigration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (stop, life_ends) = match life_end {
            Some(d) => (d, true),
            None => (p.to + 1, false),
        };
        Sim {
            p,
            muni: person.municipality,
            aow: add_years(person.birth, 67),
            person,
            rng,
            traits,
            stop,
            life_ends,
            benefits: Vec::new(),
            jobs: Vec::new(),
            trajectories: Vec::new(),
            job_seq: 0,
            traj_seq: 0,
            self_employed_last: false,
            topup_job: None,
            ww_credit: 0,
            episode_no: 0,
            traj_episode: Vec::new(),
            suppress: None,
            horizon: None,
        }
    }

    fn age(&self, t: Day) -> f64 {
        age_years(self.person.birth, t)
    }

    /// End date for something that would run until `end` (inclusive).
    fn clip(&self, end: Day) -> Day {
        if end >= self.stop {
            if self.life_ends {
                self.stop
            } else {
                OPEN
            }
        } else {
            end
        }
    }

    fn days(&mut self, mean_years: f64) -> Day {
        (self.rng.exp(mean_years) * 365.25).min(200.0 * 365.0) as Day + 1
    }

    fn run(&mut self, recorder: Option<&mut counterfactual::Recorder<'a>>) {
        let birth = self.person.birth;
        let adult = add_years(birth, 18);
        let sim_start = adult.max(add_years(self.p.from, -20));
        let career_end = self.aow.min(self.stop);
        // Wajong: disabled from youth, outside the regular labour market.
        let low = matches!(self.person.education, Education::Low | Education::Unknown);
        if self.rng.chance(if low { 0.025 } else { 0.006 }) {
            if adult < career_end {
                let end = self.clip(self.aow - 1);
                self.push_benefit(BenefitType::Wajong, adult, end, None, None);
            }
        } else if sim_start < career_end {
            let state = if sim_start == adult {
                // Study first: no assistance while in education.
                let years = match self.person.education {
                    Education::High => 4.0 + self.rng.unit() * 3.0,
                    Education::Middle => 1.0 + self.rng.unit() * 3.0,
                    _ => self.rng.unit() * 1.5,
                };
                State::NonWork {
                    boost: 0.0,
                    until: sim_start + (years * 365.25) as Day,
                    search: 1.0,
                }
            } else if self.rng.chance((0.75 * self.traits.employability).min(0.9)) {
                State::Work {
                    after_assistance: false,
                }
            } else {
                State::NonWork {
                    boost: 1.0,
                    until: sim_start,
                    search: 1.0,
                }
            };
            self.drive(sim_start, state, career_end, recorder);
        }
        // AOW from the 67th birthday.
        if self.aow < self.stop {
            let end = self.clip(OPEN - 1);
            self.push_benefit(BenefitType::Aow, self.aow, end, None, None);
        }
    }

    /// Step from state `state` at day `t` until the career ends (or the
    /// counterfactual horizon passes), offering every assistance stretch to
    /// the recorder first.
    fn drive(
        &mut self,
        mut t: Day,
        mut state: State,
        career_end: Day,
        mut recorder: Option<&mut counterfactual::Recorder<'a>>,
    ) {
        while t < career_end && self.horizon.is_none_or(|h| t <= h) {
            if let (State::Assistance { .. }, Some(r)) = (state, recorder.as_deref_mut()) {
                r.offer(t, state, career_end, self);
            }
            let (next_t, next_state) = self.step(t, state, career_end);
            if next_t <= t {
                break;
            }
            t = next_t;
            state = next_state;
            if matches!(state, State::Out) {
                break;
            }
        }
    }

    /// Advance from state `s` at day `t`; returns the next day and state.
    fn step(&mut self, t: Day, s: State, career_end: Day) -> (Day, State) {
        match s {
            State::NonWork {
                boost,
                until,
                search,
            } => self.non_work(t, boost, until, search, career_end),
            State::Work { after_assistance } => self.work(t, after_assistance, career_end),
            State::Ww { job_days } => self.ww(t, job_days, career_end),
            State::Assistance { from_ww } => self.assistance(t, from_ww, career_end),
            State::Out => (career_end, State::Out),
        }
    }

    fn non_work(
        &mut self,
        t: Day,
        boost: f64,
        until: Day,
        search: f64,
        career_end: Day,
    ) -> (Day, State) {
        let age = self.age(t);
        let mut job_rate = 1.3 * self.traits.employability;
        if age >= 55.0 {
            job_rate *= 0.35;
        }
        if self.person.household == Household::SingleParent
            || self.person.household == Household::CoupleWithChildren
        {
            job_rate *= 0.8;
        }
        // Recent leavers and job losers search actively.
        job_rate *= search;
        let entry = tune::ENTRY * self.traits.risk * if age < 27.0 { 1.2 } else { 1.0 };
        // Time to assistance: piecewise constant hazard (boosted until `until`).
        let boosted_days = (until - t).max(0);
        let t_assist = if boost <= 0.0 {
            // In education: no assistance hazard before `until`.
            boosted_days + self.days(1.0 / entry)
        } else {
            let first = self.days(1.0 / (entry * boost));
            if first <= boosted_days {
                first
            } else {
                boosted_days + self.days(1.0 / entry)
            }
        };
        let t_job = if boost <= 0.0 { boosted_days } else { 0 } + self.days(1.0 / job_rate);
        if t_job.min(t_assist) >= career_end.saturating_sub(t) {
            return (career_end, State::Out);
        }
        if t_assist < t_job {
            (t + t_assist, State::Assistance { from_ww: false })
        } else {
            (
                t + t_job,
                State::Work {
                    after_assistance: false,
                },
            )
        }
    }

    fn work(&mut self, t: Day, after_assistance: bool, career_end: Day) -> (Day, State) {
        let age = self.age(t);
        let self_employed = !after_assistance && age > 25.0 && self.rng.chance(0.10);
        let contract = if self_employed {
            Contract::Unknown
        } else {
            let w = if after_assistance {
                [0.15, 0.40, 0.45]
            } else if age < 27.0 {
                [0.30, 0.35, 0.35]
            } else {
                [0.62, 0.25, 0.13]
            };
            [Contract::Permanent, Contract::FixedTerm, Contract::Flex][self.rng.weighted(&w)]
        };
        let days = match contract {
            Contract::Permanent => ((1.6 + 0.9 * self.rng.normal()).exp() * 365.25) as Day + 30,
            Contract::FixedTerm => (self.rng.int(6, 24) as f64 * 30.44) as Day,
            Contract::Flex => self.days(if after_assistance { 0.45 } else { 0.7 }),
            Contract::Unknown => ((1.5 + 0.8 * self.rng.normal()).exp() * 365.25) as Day + 30,
        }
        .max(14);
        let raw_end = t + days - 1;
        let retire = raw_end >= career_end && career_end == self.aow && self.aow < self.stop;
        let end = if retire {
            self.aow - 1
        } else {
            self.clip(raw_end)
        };
        let sector = self.sector(after_assistance);
        let job = self.push_job(
            t,
            end,
            self_employed,
            contract,
            sector,
            after_assistance,
            false,
        );
        self.self_employed_last = self_employed;
        if after_assistance
            && self.jobs[job].hours < 24.0
            && end > t + 60
            && self.rng.chance(tune::TOP_UP)
        {
            let topup = t + self.rng.int(30, i64::from((end - t).min(180))) as Day;
            if topup < career_end {
                self.topup_job = Some(job);
                return (topup, State::Assistance { from_ww: false });
            }
        }
        if end == OPEN || end >= career_end - 1 || end >= self.stop {
            return (career_end, State::Out);
        }
        let next = end + 1;
        // Sickness at the end of a temporary contract.
        if contract != Contract::Permanent && !self_employed && self.rng.chance(0.04) {
            let zw_days = self.rng.int(30, 180) as Day;
            let zw_end = self.clip(next + zw_days);
            self.push_benefit(BenefitType::Zw, next, zw_end, None, None);
            // Long-term: disability.
            if self.rng.chance(0.08 * (age / 40.0)) && zw_end != OPEN && zw_end < career_end {
                let wia_end = self.clip(self.aow - 1);
                self.push_benefit(BenefitType::Wia, zw_end + 1, wia_end, None, None);
                return (career_end, State::Out);
            }
        }
        let j2j = match contract {
            Contract::Permanent => 0.60,
            Contract::FixedTerm => 0.50,
            Contract::Flex => 0.45,
            Contract::Unknown => 0.55,
        } * (0.6 + 0.4 * self.traits.employability).min(1.3);
        if self.rng.chance(j2j.min(0.85)) {
            return (
                next + self.rng.int(0, 20) as Day,
                State::Work {
                    after_assistance: false,
                },
            );
        }
        // WW rights count the work just before this job too (a part-time
        // job held alongside assistance that grew into this one).
        let worked = days + std::mem::take(&mut self.ww_credit);
        let take_up = if after_assistance {
            tune::WW_TAKE_UP_AFTER_ASSISTANCE
        } else {
            0.65
        };
        if !self_employed && worked >= 91 && self.rng.chance(take_up) {
            return (next, State::Ww { job_days: worked });
        }
        if self
            .rng
            .chance((tune::ENTRY_JOB * self.traits.risk).min(0.5))
        {
            return (
                next + self.rng.int(0, 60) as Day,
                State::Assistance { from_ww: false },
            );
        }
        (
            next,
            State::NonWork {
                boost: 2.0,
                until: next + 183,
                search: tune::LEAVER_SEARCH,
            },
        )
    }

    fn ww(&mut self, t: Day, job_days: i32, career_end: Day) -> (Day, State) {
        let max_months = (3 + job_days / 365).min(24);
        let mut months = 0;
        let find = (0.09 * self.traits.employability).min(0.4);
        let mut found = false;
        while months < max_months {
            months += 1;
            if self.rng.chance(find) {
                found = true;
                break;
            }
        }
        let raw_end = add_months(t, months) - 1;
        let end = if raw_end >= career_end && career_end == self.aow && self.aow < self.stop {
            self.aow - 1
        } else {
            self.clip(raw_end)
        };
        let reason = if found {
            Some(BenefitEnd::Work)
        } else {
            Some(BenefitEnd::Other)
        };
        self.push_benefit(
            BenefitType::Ww,
            t,
            end,
            None,
            if end == OPEN { None } else { reason },
        );
        if end == OPEN || end + 1 >= career_end {
            return (career_end, State::Out);
        }
        if found {
            return (
                end + 1,
                State::Work {
                    after_assistance: false,
                },
            );
        }
        if self
            .rng
            .chance((tune::ENTRY_WW * self.traits.risk).min(0.75))
        {
            return (
                end + 1 + self.rng.int(0, 45) as Day,
                State::Assistance { from_ww: true },
            );
        }
        (
            end + 1,
            State::NonWork {
                boost: 1.5,
                until: end + 365,
                search: tune::LEAVER_SEARCH,
            },
        )
    }

    fn segment(&mut self, t: Day) -> Segment {
        if self.rng.chance(0.07) {
            return Segment::NietIngedeeld;
        }
        let age = self.age(t);
        let score = self.traits.distance
            + 0.9 * self.rng.normal()
            + if age >= 50.0 { 0.6 } else { 0.0 }
            + if self.person.education == Education::High {
                -0.5
            } else {
                0.0
            }
            + if self.person.origin == Origin::OutsideEurope {
                0.3
            } else {
                0.0
            };
        if score < 0.2 {
            Segment::Werk
        } else if score < 1.2 {
            Segment::Perspectief
        } else {
            Segment::Meedoen
        }
    }

    fn close_side_job(&mut self, side: &mut Option<usize>, day: Day) {
        if let Some(i) = side.take() {
            let end = self.clip(day.max(self.jobs[i].start));
            self.jobs[i].end = Some(end);
        }
    }

    fn sector(&mut self, after_assistance: bool) -> u8 {
        // SBI sections A..U, rough shares of Dutch jobs.
        let mut w = [
            1.0, 0.1, 9.0, 0.3, 0.4, 5.0, 15.0, 6.0, 6.0, 3.5, 2.5, 1.0, 6.0, 9.0, 5.0, 7.0, 16.0,
            1.5, 2.0, 0.1, 0.05,
        ];
        if after_assistance {
            w[13] *= 3.0; // N: agencies, cleaning
            w[8] *= 2.0; // I: hospitality
            w[6] *= 1.5; // G: retail
            for i in [9, 10, 12, 14] {
                w[i] *= 0.3;
            }
        } else if self.person.education == Education::High {
            for i in [9, 10, 12, 14, 15] {
                w[i] *= 2.5;
            }
        }
        b'A' + self.rng.weighted(&w) as u8
    }

    #[allow(clippy::too_many_arguments)]
    fn push_job(
        &mut self,
        start: Day,
        end: Day,
        self_employed: bool,
        contract: Contract,
        sector: u8,
        after_assistance: bool,
        side: bool,
    ) -> usize {
        let woman = self.person.sex == Sex::V;
        let hours = if side {
            self.rng.int(4, 20) as f64
        } else if self_employed {
            self.rng.int(16, 50) as f64
        } else if self.rng.chance(if woman { 0.30 } else { 0.72 })
            && !(after_assistance && self.rng.chance(0.4))
        {
            [36.0, 38.0, 40.0][self.rng.below(3)]
        } else {
            (self.rng.int(16, 64) as f64) / 2.0
        };
        let base = match self.person.education {
            Education::High => 27.0,
            Education::Middle => 18.0,
            Education::Low | Education::Unknown => 14.5,
        };
        let age = self.age(start).clamp(18.0, 67.0);
        let age_f = 0.7 + 0.3 * ((age - 18.0) / 25.0).min(1.0);
        let hourly = (base * age_f * (0.22 * self.rng.normal()).exp()).max(11.0);
        let wage = (hourly * hours * 4.33 * 100.0).round() / 100.0;
        self.job_seq += 1;
        self.jobs.push(Job {
            seq: self.job_seq,
            start,
            end: Some(end),
            self_employed,
            contract,
            hours,
            wage,
            sector,
        });
        self.jobs.len() - 1
    }

    fn push_benefit(
        &mut self,
        kind: BenefitType,
        start: Day,
        end: Day,
        muni: Option<u16>,
        reason: Option<BenefitEnd>,
    ) {
        if start > end || start >= self.stop {
            return;
        }
        let end = self.clip(end);
        self.benefits.push(BenefitSpell {
            kind,
            start,
            end: Some(end),
            municipality: muni,
            end_reason: if end == OPEN { None } else { reason },
        });
    }

    /// Cut everything to the window and turn `OPEN` into `None`.
    fn finish(self) -> History {
        let (from, to) = (self.p.from, self.p.to);
        let open = |end: Option<Day>| end.filter(|e| *e <= to);
        let mut benefits: Vec<BenefitSpell> = self
            .benefits
            .into_iter()
            .filter(|b| b.start <= to && b.end.is_none_or(|e| e >= from))
            .map(|mut b| {
                if b.end.is_some_and(|e| e > to) {
                    b.end = None;
                    b.end_reason = None;
                }
                b
            })
            .collect();
        benefits.sort_by_key(|b| (b.start, b.kind));
        let jobs = self
            .jobs
            .into_iter()
            .filter(|j| j.start <= to && j.end.is_none_or(|e| e >= from))
            .map(|mut j| {
                j.end = open(j.end);
                j
            })
            .collect();
        let traj_from = add_months(from, -24);
        let trajectories = self
            .trajectories
            .into_iter()
            .filter(|t| t.start <= to && t.end.is_none_or(|e| e >= traj_from))
            .collect();
        History {
            person: self.person,
            benefits,
            jobs,
            trajectories,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use koppel_pseudonym::bsn::normalise_bsn;
    use std::collections::HashSet;

    #[test]
    fn person_bsns_are_valid_and_unique() {
        let mut seen = HashSet::new();
        for i in (0..2_000_000u64)
            .step_by(7)
            .chain((0..200_000).map(|k| k * 64))
        {
            let bsn = person_bsn(i);
            assert!(normalise_bsn(bsn.as_str()).is_ok());
            if i % 64 == 0 {
                assert!(bsn.as_str().starts_with('0') && !bsn.as_str()[1..].starts_with('0'));
            }
            seen.insert((i, *bsn.as_bytes()));
        }
        let unique: HashSet<_> = seen.iter().map(|(_, b)| *b).collect();
        let indexes: HashSet<_> = seen.iter().map(|(i, _)| *i).collect();
        assert_eq!(unique.len(), indexes.len());
        // Absent BSNs never collide with those of generated persons.
        let persons = 1_000_000;
        for k in 0..10_000 {
            let absent = absent_bsn(persons, k);
            assert!(!absent.as_str().starts_with('0'));
        }
    }
}
