// SPDX-License-Identifier: GPL-2.0-only
//
// Small text pieces the `--stats` block and the `--monitor` screen share:
// numbers, durations, row order, and making names from the system safe to
// print on a terminal.

use std::collections::BTreeMap;

/// `items` shown by `show` and joined by `sep`, or "none".
pub fn procs<T>(items: &[T], show: impl Fn(&T) -> String, sep: &str) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items.iter().map(show).collect::<Vec<_>>().join(sep)
}

/// `s` with everything but printable ASCII replaced by '?'. Process names
/// come from whoever started the process; printed raw, an escape sequence
/// in one would drive the reader's terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The rows of `map` in `order` first, then any others by name.
pub fn ordered<'a, T>(map: &'a BTreeMap<String, T>, order: &[&str]) -> Vec<(&'a str, &'a T)> {
    let mut rows: Vec<(&str, &T)> = order
        .iter()
        .filter_map(|name| map.get_key_value(*name))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    rows.extend(
        map.iter()
            .filter(|(k, _)| !order.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v)),
    );
    rows
}

/// A rate or count in at most about five characters: 7.5, 950, 12.3k, 4.1M.
pub fn compact(x: f64) -> String {
    let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
    if x < 10.0 && x.fract() != 0.0 {
        format!("{x:.1}")
    } else if x < 1000.0 {
        format!("{x:.0}")
    } else if x < 1e6 {
        format!("{:.1}k", x / 1e3)
    } else if x < 1e9 {
        format!("{:.1}M", x / 1e6)
    } else {
        format!("{:.1}G", x / 1e9)
    }
}

/// µs as milliseconds with two decimals.
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// An uptime: 45s, 2m03s, 1h02m03s.
pub fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The label of a frame-time band whose upper edge is `le_us` and whose
/// lower edge is `prev_us`, 20 columns at most: "<=  16.7 ms   60 fps",
/// or ">  100.0 ms" for the last band.
pub fn band_label(le_us: u64, prev_us: u64) -> String {
    if le_us == u64::MAX {
        format!(">  {:>5.1} ms", prev_us as f64 / 1000.0)
    } else {
        format!(
            "<= {:>5.1} ms {:>4} fps",
            le_us as f64 / 1000.0,
            (1e6 / le_us as f64).round()
        )
    }
}

/// The first `width` characters of `s`.
pub fn clip(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_keeps_printable_ascii_only() {
        assert_eq!(clean("hl2_linux"), "hl2_linux");
        assert_eq!(clean("Web Content"), "Web Content");
        assert_eq!(clean("a\x1b[2Jb"), "a?[2Jb");
        assert_eq!(clean("gäme\n"), "g?me?");
    }

    #[test]
    fn ordered_puts_known_rows_first() {
        let map: BTreeMap<String, u32> = [("b", 1), ("zz", 2), ("a", 3), ("c", 4)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let names: Vec<&str> = ordered(&map, &["c", "a", "missing"])
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["c", "a", "b", "zz"]);
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(7.5), "7.5");
        assert_eq!(compact(7.0), "7");
        assert_eq!(compact(950.4), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_100_000.0), "4.1M");
        assert_eq!(compact(f64::NAN), "0");
    }

    #[test]
    fn durations() {
        assert_eq!(ms(16_667), "16.67");
        assert_eq!(uptime(45_900), "45s");
        assert_eq!(uptime(123_000), "2m03s");
        assert_eq!(uptime(3_723_000), "1h02m03s");
    }

    #[test]
    fn band_labels() {
        assert_eq!(band_label(4_167, 0), "<=   4.2 ms  240 fps");
        assert_eq!(band_label(16_667, 11_111), "<=  16.7 ms   60 fps");
        assert_eq!(band_label(100_000, 50_000), "<= 100.0 ms   10 fps");
        assert_eq!(band_label(u64::MAX, 100_000), ">  100.0 ms");
    }
}
