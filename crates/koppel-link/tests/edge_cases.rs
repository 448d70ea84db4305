//! Hand-written edge cases with the expected values written out (issue #6).

mod support;

use koppel_link::{CivilDate, Cohort, LinkConfig};
use support::*;

fn outflow(year: i32) -> LinkConfig {
    LinkConfig::new(Cohort::Outflow { year })
}

#[test]
fn gap_of_31_days_is_bridged_and_32_is_not() {
    let mut data = Data::default();
    // 31 August to 2 October: 1 September..1 October = 31 days uncovered.
    data.person("a");
    data.spell("a", "bijstand", "2021-03-01", Some("2022-08-31"));
    data.spell("a", "bijstand", "2022-10-02", Some("2022-12-30"));
    // One day more: 32 days uncovered, two episodes.
    data.person("b");
    data.spell("b", "bijstand", "2021-03-01", Some("2022-08-31"));
    data.spell("b", "bijstand", "2022-10-03", Some("2022-12-30"));
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(df.height(), 2);
    // a: one episode 2021-03-01..2022-12-30, R = 2022-12-31.
    assert_eq!(cell(&df, "a", "reference_date"), "2022-12-31");
    assert_eq!(cell(&df, "a", "duration_band"), "1-2"); // 22 completed months
    assert_eq!(cell(&df, "a", "reentry_6m"), "false");
    // b: first episode ends 2022-08-31, R = 2022-09-01; the next episode
    // starts 2022-10-03, within (R, R + 6 months]: re-entry, not durable.
    assert_eq!(cell(&df, "b", "reference_date"), "2022-09-01");
    assert_eq!(cell(&df, "b", "duration_band"), "1-2"); // 18 months
    assert_eq!(cell(&df, "b", "reentry_6m"), "true");
    assert_eq!(cell(&df, "b", "durable_outflow"), "false");
    assert_eq!(cell(&df, "b", "state_3m"), "bijstand"); // 2022-12-01
    assert_eq!(cell(&df, "b", "state_6m"), "overig"); // 2023-03-01

    // The gap is configurable: with gap_days = 32 b is bridged too.
    let mut c = outflow(2022);
    c.gap_days = 32;
    let df = run(&data.frames(), &c);
    assert_eq!(cell(&df, "b", "reference_date"), "2022-12-31");
    // And with 30 neither is.
    c.gap_days = 30;
    let df = run(&data.frames(), &c);
    assert_eq!(cell(&df, "a", "reference_date"), "2022-09-01");
}

#[test]
fn reference_date_on_31_january_plus_months_clamps_to_month_end() {
    let mut data = Data::default();
    // Episode ends 30 January 2023: R = 31 January 2023.
    data.person("a");
    data.spell("a", "bijstand", "2022-06-01", Some("2023-01-30"));
    // A one-day job exactly on R + 1 month = 28 February 2023.
    data.job("a", "2023-02-28", Some("2023-02-28"), 20.0, "G");
    // Leap year: R = 31 January 2024, R + 1 month = 29 February 2024.
    data.person("b");
    data.spell("b", "bijstand", "2023-06-01", Some("2024-01-30"));
    data.job("b", "2024-02-29", Some("2024-02-29"), 20.0, "G");
    // Job from 1 March: not yet in work at R + 1 month.
    data.person("c");
    data.spell("c", "bijstand", "2022-06-01", Some("2023-01-30"));
    data.job("c", "2023-03-01", None, 20.0, "G");
    let mut c = outflow(2023);
    c.horizons = vec![1, 13];
    c.data_until = CivilDate::parse("2025-12-31");
    let df = run(&data.frames(), &c);
    assert_eq!(cell(&df, "a", "reference_date"), "2023-01-31");
    assert_eq!(cell(&df, "a", "state_1m"), "werk");
    assert_eq!(cell(&df, "a", "hours_band_1m"), "20-35");
    assert_eq!(cell(&df, "a", "wage_1m"), "2000.0");
    assert_eq!(cell(&df, "a", "state_13m"), "overig"); // 2024-02-29
    let mut c2 = c.clone();
    c2.cohort = Cohort::Outflow { year: 2024 };
    let df2 = run(&data.frames(), &c2);
    assert_eq!(cell(&df2, "b", "reference_date"), "2024-01-31");
    assert_eq!(cell(&df2, "b", "state_1m"), "werk");
    assert_eq!(cell(&df, "c", "state_1m"), "overig");
    assert_eq!(cell(&df, "c", "sector_1m"), "none");
    assert_eq!(cell(&df, "c", "wage_1m"), "null");
    assert_eq!(cell(&df, "c", "state_13m"), "werk");
}

#[test]
fn assistance_and_work_on_the_same_day_and_ww_with_work() {
    let mut data = Data::default();
    // R = 2022-07-01; R + 3 months = 2022-10-01.
    for id in ["a", "b", "c", "d"] {
        data.person(id);
        data.spell(id, "bijstand", "2021-01-01", Some("2022-06-30"));
    }
    // a: a new assistance spell ends on H and a job starts on H (closed
    // intervals: both cover H).
    data.spell("a", "bijstand", "2022-09-01", Some("2022-10-01"));
    data.job("a", "2022-10-01", None, 10.0, "N");
    // b: WW and work on H: work wins.
    data.spell("b", "ww", "2022-08-01", Some("2023-01-31"));
    data.job("b", "2022-09-15", Some("2022-12-31"), 36.0, "C");
    // c: WW only.
    data.spell("c", "ww", "2022-08-01", Some("2023-01-31"));
    // d: two jobs on H: the one with most hours is the job.
    data.job("d", "2022-01-01", None, 12.0, "Q");
    data.job("d", "2022-09-01", Some("2022-12-31"), 24.0, "F");
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(cell(&df, "a", "state_3m"), "bijstand_met_werk");
    assert_eq!(cell(&df, "a", "sector_3m"), "N");
    assert_eq!(cell(&df, "a", "hours_band_3m"), "<12");
    assert_eq!(cell(&df, "a", "reentry_6m"), "true");
    assert_eq!(cell(&df, "a", "durable_outflow"), "false");
    assert_eq!(cell(&df, "b", "state_3m"), "werk");
    assert_eq!(cell(&df, "b", "hours_band_3m"), ">=35");
    assert_eq!(cell(&df, "b", "state_6m"), "ww"); // 2023-01-01: job ended
    assert_eq!(cell(&df, "b", "contract_6m"), "none");
    assert_eq!(cell(&df, "c", "state_3m"), "ww");
    assert_eq!(cell(&df, "c", "durable_outflow"), "true");
    assert_eq!(cell(&df, "c", "durable_outflow_work"), "false");
    assert_eq!(cell(&df, "d", "state_3m"), "werk");
    assert_eq!(cell(&df, "d", "sector_3m"), "F");
    assert_eq!(cell(&df, "d", "wage_3m"), "2400.0");
    assert_eq!(cell(&df, "d", "sector_12m"), "Q"); // 2023-07-01
    assert_eq!(cell(&df, "d", "durable_outflow_work"), "true");
}

#[test]
fn ongoing_spells() {
    let mut data = Data::default();
    // Ongoing assistance: in the stock, on assistance at every horizon.
    data.person("a");
    data.spell("a", "ioaw", "2019-05-01", None);
    // Ongoing job after outflow.
    data.person("b");
    data.spell("b", "bijstand", "2021-01-01", Some("2022-03-31"));
    data.job("b", "2022-04-01", None, 32.0, "H");
    let stock = LinkConfig::new(Cohort::Stock {
        date: CivilDate::parse("2022-12-31").unwrap(),
    });
    let df = run(&data.frames(), &stock);
    assert_eq!(df.height(), 1);
    assert_eq!(cell(&df, "a", "reference_date"), "2022-12-31");
    assert_eq!(cell(&df, "a", "duration_band"), "3-4"); // 43 months
    for k in [3, 6, 12, 18] {
        assert_eq!(cell(&df, "a", &format!("state_{k}m")), "bijstand");
    }
    assert_eq!(cell(&df, "a", "durable_outflow"), "false");
    assert_eq!(cell(&df, "a", "reentry_6m"), "false");
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(df.height(), 1);
    for k in [3, 6, 12, 18] {
        assert_eq!(cell(&df, "b", &format!("state_{k}m")), "werk");
        assert_eq!(cell(&df, "b", &format!("hours_band_{k}m")), "20-35");
    }
    assert_eq!(cell(&df, "b", "durable_outflow_work"), "true");
}

#[test]
fn death_or_emigration_before_a_horizon_gives_overig_and_keeps_the_person() {
    let mut data = Data::default();
    // R = 2022-07-01. a dies on 2023-03-15 (between 6 and 12 months).
    data.person("a").death = Some(d("2023-03-15"));
    data.spell("a", "bijstand", "2021-01-01", Some("2022-06-30"));
    data.job("a", "2022-08-01", None, 20.0, "G");
    // b emigrates exactly on R + 3 months (2022-10-01): still in the
    // population on that day, gone from the next.
    data.person("b").emigration = Some(d("2022-10-01"));
    data.spell("b", "bijstand", "2021-01-01", Some("2022-06-30"));
    data.job("b", "2022-08-01", None, 20.0, "G");
    // c dies exactly on R + 6 months (2023-01-01) while on assistance and in
    // work: bijstand_met_werk on that day, overig after.
    data.person("c").death = Some(d("2023-01-01"));
    data.spell("c", "bijstand", "2021-01-01", Some("2022-06-30"));
    data.spell("c", "bijstand", "2022-12-01", None);
    data.job("c", "2022-09-01", None, 36.0, "Q");
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(df.height(), 3);
    assert_eq!(cell(&df, "a", "state_3m"), "werk");
    assert_eq!(cell(&df, "a", "state_6m"), "werk");
    assert_eq!(cell(&df, "a", "state_12m"), "overig");
    assert_eq!(cell(&df, "a", "sector_12m"), "none");
    assert_eq!(cell(&df, "a", "wage_12m"), "null");
    assert_eq!(cell(&df, "a", "state_18m"), "overig");
    assert_eq!(cell(&df, "a", "durable_outflow"), "true");
    assert_eq!(cell(&df, "a", "durable_outflow_work"), "false");
    assert_eq!(cell(&df, "b", "state_3m"), "werk");
    assert_eq!(cell(&df, "b", "sector_3m"), "G");
    assert_eq!(cell(&df, "b", "state_6m"), "overig");
    assert_eq!(cell(&df, "b", "sector_6m"), "none");
    assert_eq!(cell(&df, "b", "state_18m"), "overig");
    assert_eq!(cell(&df, "c", "state_3m"), "werk");
    assert_eq!(cell(&df, "c", "state_6m"), "bijstand_met_werk");
    assert_eq!(cell(&df, "c", "sector_6m"), "Q");
    assert_eq!(cell(&df, "c", "hours_band_6m"), ">=35");
    assert_eq!(cell(&df, "c", "state_12m"), "overig");
}

#[test]
fn two_outflows_in_one_year_give_one_row_with_the_first() {
    let mut data = Data::default();
    data.person("a");
    data.spell("a", "bijstand", "2021-01-01", Some("2022-03-31"));
    data.spell("a", "bijstand", "2022-06-01", Some("2022-09-30"));
    data.trajectory("a", "training", "2021-06-01", Some("2021-12-31"));
    data.trajectory("a", "jobcoaching", "2021-09-01", Some("2022-02-28"));
    data.trajectory("a", "training", "2022-01-01", Some("2022-03-15"));
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(df.height(), 1, "persons, not trajectories or episodes");
    assert_eq!(cell(&df, "a", "reference_date"), "2022-04-01");
    assert_eq!(cell(&df, "a", "duration_band"), "1-2"); // 15 months
    assert_eq!(cell(&df, "a", "reentry_6m"), "true"); // 2022-06-01
    assert_eq!(cell(&df, "a", "state_3m"), "bijstand"); // 2022-07-01
    assert_eq!(cell(&df, "a", "trajectory_last"), "training"); // latest start
    assert_eq!(cell(&df, "a", "trajectory_mix"), "multiple");
    assert_eq!(cell(&df, "a", "segment"), "perspectief");
}

#[test]
fn trajectory_ending_exactly_at_the_lookback_boundary() {
    let mut data = Data::default();
    // R = 2023-01-01, lookback starts 2021-01-01.
    for id in ["a", "b"] {
        data.person(id);
        data.spell(id, "bijstand", "2020-01-01", Some("2022-12-31"));
    }
    data.trajectory("a", "scholing", "2020-06-01", Some("2021-01-01"));
    data.trajectory("b", "scholing", "2020-06-01", Some("2020-12-31"));
    // A trajectory starting on R is not before R.
    data.trajectory("b", "work_first", "2023-01-01", None);
    let df = run(&data.frames(), &outflow(2022));
    assert_eq!(cell(&df, "a", "trajectory_last"), "scholing");
    assert_eq!(cell(&df, "a", "trajectory_mix"), "scholing");
    assert_eq!(cell(&df, "b", "trajectory_last"), "none");
    assert_eq!(cell(&df, "b", "trajectory_mix"), "none");
    assert_eq!(cell(&df, "b", "segment"), "unknown");
}

#[test]
fn persons_without_a_register_match_are_left_out() {
    let mut data = Data::default();
    data.person("a");
    data.spell("a", "bijstand", "2021-01-01", Some("2022-06-30"));
    // x has assistance but no persons record.
    data.spell("x", "bijstand", "2021-01-01", Some("2022-06-30"));
    // y has only a trajectory and no registers at all.
    data.trajectory("y", "training", "2022-01-01", Some("2022-05-31"));
    data.trajectory("a", "training", "2022-01-01", Some("2022-05-31"));
    let df = run(&data.frames(), &outflow(2022));
    assert!(has_row(&df, "a"));
    assert!(!has_row(&df, "x"));
    let tc = LinkConfig::new(Cohort::Trajectory { year: 2022 });
    let df = run(&data.frames(), &tc);
    assert_eq!(df.height(), 1);
    assert_eq!(cell(&df, "a", "reference_date"), "2022-06-01");
    assert_eq!(cell(&df, "a", "duration_band"), "1-2"); // 17 months on 2022-05-31
    assert_eq!(cell(&df, "a", "state_3m"), "overig");
    let q = koppel_link::linkage_quality_plan(&data.frames(), &tc)
        .collect()
        .unwrap();
    // One municipality row plus the total.
    assert_eq!(q.height(), 2);
    let get = |c: &str, i: usize| q.column(c).unwrap().get(i).unwrap().to_string();
    assert_eq!(get("persons_in_uploads", 0), "2");
    assert_eq!(get("found_in_persons_register", 0), "1");
    assert_eq!(get("with_assistance_around_trajectories", 0), "1");
    assert_eq!(get("not_found", 0), "1");
    assert_eq!(get("municipality", 1), "\"total\"");
}

#[test]
fn cohorts_inflow_stock_trajectory_and_dimensions() {
    let mut data = Data::default();
    let p = data.person("a");
    p.birth = Some(d("1995-01-01")); // 27 on 2022-01-01
    p.education = None;
    data.spell("a", "bijstand", "2021-11-01", Some("2021-12-10"));
    // Bridged (gap 21 days): the episode starts in 2021, not an inflow of 2022.
    data.spell("a", "bijstand", "2022-01-01", Some("2022-05-31"));
    data.benefits.last_mut().unwrap().municipality = Some("GM0599");
    let p = data.person("b");
    p.birth = Some(d("1995-03-01")); // 26 on 2022-02-28
    p.sex = None;
    data.spell("b", "bijstand", "2022-02-28", Some("2022-02-28"));
    data.spell("b", "bijstand", "2022-09-01", None);
    data.trajectory("b", "training", "2022-03-01", Some("2022-08-31"));
    let inflow = LinkConfig::new(Cohort::Inflow { year: 2022 });
    let df = run(&data.frames(), &inflow);
    assert!(!has_row(&df, "a"));
    assert_eq!(cell(&df, "b", "reference_date"), "2022-02-28");
    assert_eq!(cell(&df, "b", "duration_band"), "<0.5");
    assert_eq!(cell(&df, "b", "age_band"), "<27");
    assert_eq!(cell(&df, "b", "sex"), "unknown");
    // The next episode starts 2022-09-01, after R + 6 months = 2022-08-28.
    assert_eq!(cell(&df, "b", "reentry_6m"), "false");
    let stock = LinkConfig::new(Cohort::Stock {
        date: CivilDate::parse("2022-01-01").unwrap(),
    });
    let df = run(&data.frames(), &stock);
    assert_eq!(df.height(), 1);
    assert_eq!(cell(&df, "a", "age_band"), "27-34");
    assert_eq!(cell(&df, "a", "education_level"), "unknown");
    assert_eq!(cell(&df, "a", "municipality"), "GM0599");
    assert_eq!(cell(&df, "a", "duration_band"), "<0.5");
    let traj = LinkConfig::new(Cohort::Trajectory { year: 2022 });
    let df = run(&data.frames(), &traj);
    assert_eq!(cell(&df, "b", "reference_date"), "2022-09-01");
    assert_eq!(cell(&df, "b", "duration_band"), "none");
    assert_eq!(cell(&df, "b", "state_3m"), "bijstand");
    assert_eq!(cell(&df, "b", "trajectory_last"), "training");
}

/// Ties are broken by the columns the file shows, so the result does not
/// depend on the order of the rows: two jobs with equal hours and wages
/// (the lower job id wins), two trajectories starting the same day (the
/// later end, then the instrument in alphabetical order wins), two persons
/// register records (the first by birth date, then the other columns), and
/// the paying municipality (the latest-starting spell of the episode).
#[test]
fn ties_are_broken_the_same_way_whatever_the_row_order() {
    let build = |reversed: bool| {
        let mut data = Data::default();
        data.person("a").birth = Some(d("1980-05-01"));
        let second = data.person("a");
        second.birth = Some(d("1980-05-01"));
        second.sex = Some("M");
        data.spell("a", "bijstand", "2021-01-01", Some("2022-06-30"));
        data.spell("a", "bijstand", "2022-01-01", Some("2022-03-31"));
        data.benefits.last_mut().unwrap().municipality = Some("GM0014");
        data.job("a", "2022-08-01", None, 24.0, "F");
        data.job("a", "2022-09-01", None, 24.0, "C");
        data.trajectory("a", "training", "2022-01-01", Some("2022-03-01"));
        data.trajectory("a", "scholing", "2022-01-01", Some("2022-03-01"));
        data.trajectory("a", "work_first", "2022-01-01", Some("2022-02-01"));
        if reversed {
            data.persons.reverse();
            data.benefits.reverse();
            data.jobs.reverse();
            data.trajectories.reverse();
        }
        run(&data.frames(), &outflow(2022))
    };
    let (forward, backward) = (build(false), build(true));
    assert!(forward.equals_missing(&backward));
    // J00000 (sector F) and J00001 (sector C) tie on hours and wage.
    assert_eq!(cell(&forward, "a", "sector_3m"), "F");
    assert_eq!(cell(&forward, "a", "trajectory_last"), "scholing");
    assert_eq!(cell(&forward, "a", "trajectory_mix"), "multiple");
    // Same birth date: the second record's sex `M` sorts before `V`.
    assert_eq!(cell(&forward, "a", "sex"), "M");
    // The spell starting latest within the episode pays: GM0014.
    assert_eq!(cell(&forward, "a", "municipality"), "GM0014");
}
