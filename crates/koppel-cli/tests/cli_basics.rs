//! What a newcomer meets first: `koppel --help` says what koppel is and gives
//! an example per subcommand; a fatal error is printed once, with its path and
//! the operating system's reason once, and without colour escapes off a
//! terminal.

mod support;
use support::{koppel, text};

#[test]
fn a_missing_file_is_reported_once_with_the_os_reason_once() {
    let out = koppel(&["validate", "--kind", "trajectories", "geen-bestand.csv"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("geen-bestand.csv"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour escapes off a terminal: {stderr}"
    );
}

#[test]
fn help_says_what_koppel_is_with_examples() {
    let out = koppel(&["--help"]);
    let help = text(&out.stdout);
    assert!(help.contains("pseudonyms"), "{help}");
    assert!(!help.contains("wiring only"), "{help}");
    for example in [
        "koppel validate",
        "koppel run",
        "koppel pseudonymise",
        "koppel key new",
    ] {
        assert!(help.contains(example), "{help}");
    }
    for command in [
        "validate",
        "run",
        "pseudonymise",
        "synth",
        "verify",
        "check",
    ] {
        let out = koppel(&[command, "--help"]);
        assert!(
            text(&out.stdout).contains(&format!("koppel {command}")),
            "{command}"
        );
    }
}
