//! The benchmarks' one way to summarise latencies: nearest-rank quantiles, and quantiles over
//! keystrokes some of which were never answered in time.

/// The `q`-quantile (0..=1) of `values`, nearest rank; `None` when there are none.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// A quantile over events of which some have no time because they never finished in time
/// (a keystroke whose answer came after the next keystroke).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Censored {
    /// The quantile falls on a measured time, in milliseconds.
    Ms(f64),
    /// The quantile falls among the events that were not answered in time.
    NotInTime,
    /// There were no events.
    NoData,
}

/// The `q`-quantile (nearest rank) of `answered` times together with `late` events ranked after
/// every measured time, as if they had taken forever.
pub fn quantile_with_late(answered: &[f64], late: usize, q: f64) -> Censored {
    let total = answered.len() + late;
    if total == 0 {
        return Censored::NoData;
    }
    let rank = ((q * total as f64).ceil() as usize).clamp(1, total);
    if rank > answered.len() {
        return Censored::NotInTime;
    }
    let mut sorted = answered.to_vec();
    sorted.sort_by(f64::total_cmp);
    Censored::Ms(sorted[rank - 1])
}

impl std::fmt::Display for Censored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Censored::Ms(ms) => write!(f, "{ms:.1}"),
            Censored::NotInTime => f.write_str("late"),
            Censored::NoData => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&values, 0.5), Some(3.0));
        assert_eq!(quantile(&values, 0.9), Some(5.0));
        assert_eq!(quantile(&values, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn late_events_rank_after_every_measured_time() {
        let answered = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile_with_late(&answered, 0, 0.5), Censored::Ms(2.0));
        // 4 answered + 1 late: the median is the 3rd of 5, the 90th percentile the 5th (late).
        assert_eq!(quantile_with_late(&answered, 1, 0.5), Censored::Ms(3.0));
        assert_eq!(quantile_with_late(&answered, 1, 0.9), Censored::NotInTime);
        assert_eq!(quantile_with_late(&answered, 1, 0.8), Censored::Ms(4.0));
        assert_eq!(quantile_with_late(&[], 2, 0.5), Censored::NotInTime);
        assert_eq!(quantile_with_late(&[], 0, 0.5), Censored::NoData);
    }
}
