//! This process's open-file limit, and a process's CPU time and resident memory, read from
//! `/proc` (Linux; same machine only).

/// Raises this process's soft open-file limit to its hard limit (each socket is a file).
/// Returns the new soft limit (0 if it cannot be read).
pub fn raise_fd_limit() -> u64 {
    // A refusal leaves the limit as it was, which is what is then read and returned.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::Resource::NOFILE.get_soft().unwrap_or(0)
}

/// A process's user + system CPU seconds, from `/proc/PID/stat` (Linux; clock ticks of
/// 1/100 s, the USER_HZ of every Linux ABI).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `) state`.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A process's resident memory, from `/proc/PID/status`.
pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
