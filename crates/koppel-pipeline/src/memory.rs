//! Peak resident memory per stage (Linux: `VmHWM`, reset through
//! `/proc/self/clear_refs` before each stage; elsewhere 0).

/// Resets the process's peak-RSS mark, where the OS allows it.
pub fn reset_peak() {
    #[cfg(target_os = "linux")]
    {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// Peak resident memory since the last reset, in MiB (0 when unknown).
pub fn peak_mib() -> u64 {
    #[cfg(target_os = "linux")]
    {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                if let Some(rest) = line.strip_prefix("VmHWM:") {
                    let kib: u64 = rest
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse()
                        .unwrap_or(0);
                    return kib / 1024;
                }
            }
        }
    }
    0
}
