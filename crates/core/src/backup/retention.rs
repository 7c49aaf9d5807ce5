//! Retention: keep the last N backups of each source and any younger than D; prune the rest.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::manifest::BackupManifest;

/// How many backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep the newest N of each source (default 7).
    pub keep_last: usize,
    /// Also keep any backup younger than this.
    pub keep_younger_than: Option<Duration>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { keep_last: 7, keep_younger_than: None }
    }
}

/// Indexes into `backups` of those the policy prunes, in ascending order. Pure: `now` is given.
pub fn select_for_pruning(backups: &[BackupManifest], policy: RetentionPolicy, now: DateTime<Utc>) -> Vec<usize> {
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, b) in backups.iter().enumerate() {
        groups.entry(b.group()).or_default().push(i);
    }
    let mut pruned = Vec::new();
    for (_, mut idx) in groups {
        idx.sort_by(|a, b| backups[*b].created.cmp(&backups[*a].created).then(backups[*b].file.cmp(&backups[*a].file)));
        for (rank, i) in idx.into_iter().enumerate() {
            let young = policy.keep_younger_than.is_some_and(|d| {
                let age = now.signed_duration_since(backups[i].created);
                age.to_std().map(|age| age < d).unwrap_or(true)
            });
            if rank >= policy.keep_last && !young {
                pruned.push(i);
            }
        }
    }
    pruned.sort_unstable();
    pruned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupKind;
    use chrono::TimeZone;

    fn b(service: &str, day: u32) -> BackupManifest {
        BackupManifest {
            kind: BackupKind::Postgres,
            project: "p".into(),
            service: Some(service.into()),
            volume: None,
            release: None,
            created: Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap(),
            file: format!("{service}-{day}.dump"),
            sha256: String::new(),
            size: 0,
            database: None,
            user: None,
            server_version: None,
            image: None,
            duration_ms: 0,
            tables: Default::default(),
        }
    }

    #[test]
    fn keeps_newest_n_per_source() {
        let all: Vec<_> = (1..=10).map(|d| b("db", d)).chain((1..=2).map(|d| b("other", d))).collect();
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
        let pruned = select_for_pruning(&all, RetentionPolicy { keep_last: 7, keep_younger_than: None }, now);
        // days 1, 2, 3 of "db" go; "other" has only two.
        assert_eq!(pruned, vec![0, 1, 2]);
    }

    #[test]
    fn keeps_young_ones_beyond_n() {
        let all: Vec<_> = (1..=10).map(|d| b("db", d)).collect();
        let now = Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap();
        let policy = RetentionPolicy { keep_last: 2, keep_younger_than: Some(Duration::from_secs(5 * 86400)) };
        // keep 9, 10 (newest two) and days 6, 7, 8 (younger than five days); prune 1..=5.
        assert_eq!(select_for_pruning(&all, policy, now), vec![0, 1, 2, 3, 4]);
    }
}
