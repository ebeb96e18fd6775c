//! What several integration tests share.

/// A pretty-printed JSON record without what depends on the process: the
/// `timing` object and every line whose key is one of `keys` (e.g.
/// `"wall_seconds"`). Everything else is kept, byte for byte.
pub fn masked(json: &str, keys: &[&str]) -> String {
    let mut kept = String::new();
    let mut in_timing = false;
    for line in json.lines() {
        let t = line.trim_start();
        if in_timing {
            in_timing = !t.starts_with('}');
        } else if t.starts_with("\"timing\": {") {
            in_timing = true;
        } else if !keys.iter().any(|k| t.starts_with(&format!("\"{k}\":"))) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}
