//! What `--rate N/day` quotas have spent, kept between runs: a small JSON file, by origin.
//!
//! ```json
//! {"format": 1, "origins": {"https://api.example.com": [
//!   {"count": 1000, "period": "day", "used": 412, "period_end_unix_s": 1796083200}]}}
//! ```
//!
//! Read when an extract starts (its quotas then begin from what the period already spent),
//! written after every page and when the run ends, through a temporary file renamed over it.
//! Two extracts of one origin running at once each merge their own count in (the larger of
//! the two for a period): they do not add up, so give each its own quota or run them one
//! after another. A file that cannot be read stops the run (exit 2) rather than forget what
//! was spent: `--quota-state FILE` points elsewhere, `--quota-state off` starts afresh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use paceline::throttle::QuotaUse;
use serde::{Deserialize, Serialize};

const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    format: u32,
    origins: BTreeMap<String, Vec<QuotaUse>>,
}

/// One origin's entry in one state file.
#[derive(Debug, Clone)]
pub struct QuotaState {
    path: PathBuf,
    origin: String,
}

impl QuotaState {
    pub fn new(path: PathBuf, origin: String) -> Self {
        QuotaState { path, origin }
    }

    /// `$XDG_STATE_HOME/paceline/quotas.json`, else `~/.local/state/paceline/quotas.json`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| Path::new(&h).join(".local").join("state"))
            })?;
        Some(base.join("paceline").join("quotas.json"))
    }

    fn read(&self) -> Result<File, String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let file: File = serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "{}: not a quota state file ({e}); --quota-state FILE uses another, \
                         --quota-state off none",
                        self.path.display()
                    )
                })?;
                if file.format != FORMAT {
                    return Err(format!(
                        "{}: quota state format {} (this paceline reads {FORMAT})",
                        self.path.display(),
                        file.format
                    ));
                }
                Ok(file)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File {
                format: FORMAT,
                origins: BTreeMap::new(),
            }),
            Err(e) => Err(format!(
                "{}: cannot read the quota state: {e}; --quota-state FILE uses another, \
                 --quota-state off none",
                self.path.display()
            )),
        }
    }

    /// What earlier runs spent against this origin.
    pub fn load(&self) -> Result<Vec<QuotaUse>, String> {
        Ok(self
            .read()?
            .origins
            .remove(&self.origin)
            .unwrap_or_default())
    }

    /// Merges this run's usage in: per quota (count and period), the larger count of a period,
    /// or the later period. Periods already over at `now_unix_s` are dropped, of every origin.
    pub fn save(&self, uses: &[QuotaUse], now_unix_s: u64) -> Result<(), String> {
        let mut file = self.read()?;
        let entry = file.origins.entry(self.origin.clone()).or_default();
        for u in uses {
            match entry
                .iter_mut()
                .find(|e| e.count == u.count && e.period == u.period)
            {
                Some(e) if e.period_end_unix_s == u.period_end_unix_s => {
                    e.used = e.used.max(u.used)
                }
                Some(e) if e.period_end_unix_s < u.period_end_unix_s => *e = *u,
                Some(_) => {}
                None => entry.push(*u),
            }
        }
        for uses in file.origins.values_mut() {
            uses.retain(|u| u.period_end_unix_s > now_unix_s);
        }
        file.origins.retain(|_, uses| !uses.is_empty());
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut tmp = self.path.as_os_str().to_owned();
            tmp.push(format!(".{}.tmp", std::process::id()));
            let tmp = PathBuf::from(tmp);
            std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| format!("{}: cannot save the quota state: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paceline::throttle::Period;

    fn day(used: u64, end: u64) -> QuotaUse {
        QuotaUse {
            count: 20,
            period: Period::Day,
            used,
            period_end_unix_s: end,
        }
    }

    #[test]
    fn round_trip_merge_and_prune() {
        let dir = std::env::temp_dir().join(format!("paceline-qs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = QuotaState::new(dir.join("q.json"), "http://a".into());
        let b = QuotaState::new(dir.join("q.json"), "http://b".into());
        assert_eq!(a.load().unwrap(), []);
        a.save(&[day(5, 1000)], 10).unwrap();
        b.save(&[day(7, 1000)], 10).unwrap();
        // Another run of the same origin, the same day, that spent less: the larger stays.
        a.save(&[day(3, 1000)], 10).unwrap();
        assert_eq!(a.load().unwrap(), [day(5, 1000)]);
        assert_eq!(b.load().unwrap(), [day(7, 1000)]);
        // The next day replaces it; yesterday's entries of every origin go.
        a.save(&[day(1, 2000)], 1500).unwrap();
        assert_eq!(a.load().unwrap(), [day(1, 2000)]);
        assert_eq!(b.load().unwrap(), []);
        // A file that is not a state file is an error, not an empty state.
        std::fs::write(dir.join("q.json"), "{").unwrap();
        assert!(a.load().unwrap_err().contains("--quota-state"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
