//! What the benchmark examples share: their peak memory, which SPEC §16 asks of every load.

/// This process's peak resident set (`VmHWM`, Linux).
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .map_or_else(
            || "peak RSS: unknown (no /proc)".into(),
            |l| format!("peak RSS: {l}"),
        )
}
