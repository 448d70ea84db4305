//! Register and upload value types, with their canonical spellings (docs/input-contracts.md).

use koppel_pseudonym::bsn::Bsn;

use crate::date::Day;

macro_rules! labelled {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }
        impl $name {
            /// Every value, in canonical order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The canonical value as written in the registers.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
}

labelled!(
    /// `sex` in `persons`.
    Sex { /// man
        M => "M", /// vrouw
        V => "V" }
);
labelled!(
    /// `household_type` in `persons`.
    Household {
        /// Living alone.
        Single => "single",
        /// One parent with children.
        SingleParent => "single_parent",
        /// Couple without children.
        CoupleNoChildren => "couple_no_children",
        /// Couple with children.
        CoupleWithChildren => "couple_with_children",
        /// Child living with parent(s).
        ChildAtHome => "child_at_home",
        /// Institutional household.
        Institution => "institution",
        /// Anything else.
        Other => "other",
    }
);
labelled!(
    /// `origin` in `persons`.
    Origin { /// Dutch origin.
        Nl => "nl", /// European migration background.
        Europe => "europe", /// Non-European migration background.
        OutsideEurope => "outside_europe" }
);
labelled!(
    /// `education_level` in `persons`.
    Education { /// Low.
        Low => "low", /// Middle.
        Middle => "middle", /// High.
        High => "high", /// Not known to the register.
        Unknown => "unknown" }
);
labelled!(
    /// `benefit_type` in `benefits`.
    BenefitType {
        /// Social assistance (Participatiewet).
        Bijstand => "bijstand",
        /// IOAW (older unemployed workers).
        Ioaw => "ioaw",
        /// IOAZ (older former self-employed).
        Ioaz => "ioaz",
        /// Unemployment insurance.
        Ww => "ww",
        /// Disability insurance.
        Wia => "wia",
        /// Young disabled.
        Wajong => "wajong",
        /// Sickness benefit.
        Zw => "zw",
        /// State pension.
        Aow => "aow",
        /// Survivor's benefit.
        Anw => "anw",
        /// Other.
        Other => "other",
    }
);
labelled!(
    /// `end_reason` in `benefits`.
    BenefitEnd {
        /// Started work.
        Work => "work",
        /// Moved to another municipality.
        Moved => "moved",
        /// Reached pension age.
        Pension => "pension",
        /// Started education.
        Education => "education",
        /// Stopped by enforcement.
        Enforcement => "enforcement",
        /// Partner's income.
        PartnerIncome => "partner_income",
        /// Anything else (also administrative re-registrations).
        Other => "other",
    }
);
labelled!(
    /// `contract` in `employment`.
    Contract { /// Permanent.
        Permanent => "permanent", /// Fixed term.
        FixedTerm => "fixed_term", /// Flex / agency / on-call.
        Flex => "flex", /// Not known (self-employed).
        Unknown => "unknown" }
);
labelled!(
    /// `segment` in trajectory uploads.
    Segment { /// Short distance to work.
        Werk => "werk", /// Medium distance.
        Perspectief => "perspectief", /// Large distance.
        Meedoen => "meedoen", /// Not yet assigned.
        NietIngedeeld => "niet_ingedeeld" }
);
labelled!(
    /// `end_reason` in trajectory uploads.
    TrajectoryEnd {
        /// Completed.
        Completed => "completed",
        /// Stopped early.
        NotCompleted => "not_completed",
        /// Still running at the extract date.
        Ongoing => "ongoing",
        /// Client moved away.
        Moved => "moved",
        /// Other.
        Other => "other",
    }
);

/// One resident (a row of `persons`).
#[derive(Clone, Debug)]
pub struct Person {
    /// Position in the generated population (0-based).
    pub index: u64,
    /// Valid BSN.
    pub bsn: Bsn,
    /// Date of birth.
    pub birth: Day,
    /// Sex.
    pub sex: Sex,
    /// Household type.
    pub household: Household,
    /// Origin.
    pub origin: Origin,
    /// Education level.
    pub education: Education,
    /// Index into the selected municipalities: where the person lives at the
    /// end of the window (or at death/emigration).
    pub municipality: u16,
    /// Date of death, when within the window.
    pub death: Option<Day>,
    /// Date of emigration, when within the window.
    pub emigration: Option<Day>,
}

/// One benefit spell (a row of `benefits`).
#[derive(Clone, Debug, PartialEq)]
pub struct BenefitSpell {
    /// Benefit type.
    pub kind: BenefitType,
    /// First day.
    pub start: Day,
    /// Last day; `None` when ongoing at the end of the window.
    pub end: Option<Day>,
    /// Paying municipality (assistance types only).
    pub municipality: Option<u16>,
    /// Why the spell ended, when it ended and a reason is recorded.
    pub end_reason: Option<BenefitEnd>,
}

/// One employment spell (a row of `employment`).
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Sequence number within the person.
    pub seq: u32,
    /// First day.
    pub start: Day,
    /// Last day; `None` when ongoing.
    pub end: Option<Day>,
    /// Self-employed rather than employee.
    pub self_employed: bool,
    /// Contract type.
    pub contract: Contract,
    /// Contract hours per week.
    pub hours: f64,
    /// Monthly wage in euros.
    pub wage: f64,
    /// SBI section letter, `b'A'..=b'U'`.
    pub sector: u8,
}

/// One re-integration trajectory (a row of a municipal upload).
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory {
    /// Sequence number within the person.
    pub seq: u32,
    /// Index of the responsible municipality.
    pub municipality: u16,
    /// Index into the instrument catalogue.
    pub instrument: u16,
    /// Index into the provider list of the instrument's group.
    pub provider: u8,
    /// First day.
    pub start: Day,
    /// Last day; `None` when ongoing.
    pub end: Option<Day>,
    /// End reason (`ongoing` when `end` is `None`).
    pub end_reason: TrajectoryEnd,
    /// Client segment at the start.
    pub segment: Segment,
}

/// Everything generated for one person, already restricted to the window.
#[derive(Clone, Debug)]
pub struct History {
    /// The person.
    pub person: Person,
    /// Benefit spells overlapping the window.
    pub benefits: Vec<BenefitSpell>,
    /// Employment spells overlapping the window.
    pub jobs: Vec<Job>,
    /// Trajectories overlapping the window or the 24 months before it.
    pub trajectories: Vec<Trajectory>,
}
