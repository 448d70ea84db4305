use koppel_disclosure::audit::{audit, Scope};
use koppel_disclosure::cells::{CellSet, Status};
use koppel_disclosure::secondary::suppress_secondary;

fn protect(cells: &CellSet, min: f64) -> Vec<Status> {
    let mut status: Vec<Status> = cells
        .values
        .iter()
        .map(|&v| if v > 0.0 && v < min { Status::Primary } else { Status::Published })
        .collect();
    let required: Vec<f64> = status.iter().map(|s| if *s == Status::Primary { min } else { 0.0 }).collect();
    suppress_secondary(cells, &mut status, &required, min).unwrap();
    let published: Vec<Option<f64>> = status.iter().zip(&cells.values).map(|(s, v)| (!s.is_suppressed()).then_some(*v)).collect();
    let report = audit(cells, &published, &required, 0.0, Scope::All).unwrap();
    assert!(report.is_clean(), "{:?}", report.violations());
    status
}

#[test]
fn single_small_cell_2d() {
    let cells = CellSet::grid(&[3, 3], &[20., 30., 40., 25., 3., 35., 50., 45., 60.]);
    let status = protect(&cells, 10.0);
    let supp: Vec<_> = (0..cells.len()).filter(|&i| status[i].is_suppressed()).map(|i| cells.keys[i].clone()).collect();
    assert_eq!(supp.len(), 4, "{supp:?}");
}
