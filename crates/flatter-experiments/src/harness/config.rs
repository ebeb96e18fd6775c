//! What every experiment file shares: `smoke` / `cpu` / `paper` tables,
//! strict parsing (unknown or missing fields are errors naming the field),
//! and range checks whose errors name the file, the scale and the field.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::harness::io::{IoError, read_toml};
use crate::harness::scale::Scale;

/// A field out of range: the field and what was expected.
pub type Invalid = (&'static str, String);

/// `Ok` when `ok`, else the field and the expectation.
pub fn require(ok: bool, field: &'static str, message: impl Into<String>) -> Result<(), Invalid> {
    if ok { Ok(()) } else { Err((field, message.into())) }
}

/// The most memory a scale may imply (its largest allocation, or the sum of
/// its per-run state): the bound every size is checked against, so that a
/// typo such as `n = 1e10` is a field error rather than an allocation abort.
pub const MEMORY_LIMIT: u64 = 64 << 30;

/// The most runs a scale may expand into (each is an id in memory, a job
/// entry and a directory on disk).
pub const MAX_RUNS: u64 = 1_000_000;

/// The largest step or epoch count: counts are converted to f64 (fits,
/// schedules), which is exact only up to 2^53.
pub const MAX_COUNT: u64 = 1 << 53;

/// `x` is finite and `ok`; the message quotes the value.
pub fn require_f64(x: f64, ok: bool, field: &'static str, expected: &str) -> Result<(), Invalid> {
    require(x.is_finite() && ok, field, format!("{x}: expected {expected}"))
}

/// Every entry of `xs` is finite and satisfies `ok`; the message names the first that is not, by index.
pub fn require_each(xs: &[f64], ok: impl Fn(f64) -> bool, field: &'static str, expected: &str) -> Result<(), Invalid> {
    match xs.iter().position(|&x| !(x.is_finite() && ok(x))) {
        Some(i) => Err((field, format!("{field}[{i}] = {}: expected {expected}", xs[i]))),
        None => Ok(()),
    }
}

/// Refuses two entries of the list `field` whose tags (the text run ids
/// print for them) are equal: the runs would share an id, hence a directory.
/// The message names both indices.
pub fn distinct_in_ids(field: &'static str, tags: impl IntoIterator<Item = String>) -> Result<(), Invalid> {
    let mut seen = std::collections::HashMap::new();
    for (i, tag) in tags.into_iter().enumerate() {
        if let Some(j) = seen.get(&tag) {
            return Err((field, format!("{field}[{j}] and {field}[{i}] both appear as {tag:?} in run ids; expected values that differ there")));
        }
        seen.insert(tag, i);
    }
    Ok(())
}

/// The checked product of `factors`, `None` on overflow.
pub fn product(factors: &[(&str, u64)]) -> Option<u64> {
    factors.iter().try_fold(1u64, |acc, &(_, x)| acc.checked_mul(x))
}

/// `bytes` in binary units, e.g. "37.0 TiB".
pub fn fmt_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = bytes as f64;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < units.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} bytes") } else { format!("{x:.1} {}", units[u]) }
}

/// The memory a scale implies, as a sum of products of sizes (each term's
/// last factor is its bytes per element); an error naming `field` when it
/// overflows or exceeds [`MEMORY_LIMIT`], stating every term and the total.
pub fn within_memory(field: &'static str, terms: &[&[(&str, u64)]]) -> Result<u64, Invalid> {
    let text = terms
        .iter()
        .map(|t| t.iter().map(|(name, x)| if name.is_empty() { format!("{x} bytes") } else { format!("{name} ({x})") }).collect::<Vec<_>>().join(" × "))
        .collect::<Vec<_>>()
        .join(" + ");
    let total = terms.iter().try_fold(0u64, |acc, t| product(t).and_then(|p| acc.checked_add(p)));
    match total {
        Some(b) if b <= MEMORY_LIMIT => Ok(b),
        Some(b) => Err((field, format!("{text} = {}, more than the {} limit", fmt_bytes(b), fmt_bytes(MEMORY_LIMIT)))),
        None => Err((field, format!("{text} overflows 64 bits, more than the {} limit", fmt_bytes(MEMORY_LIMIT)))),
    }
}

/// The number of runs, the checked product of `factors`, at most [`MAX_RUNS`].
pub fn within_runs(field: &'static str, factors: &[(&str, u64)]) -> Result<u64, Invalid> {
    let text = factors.iter().map(|(name, x)| format!("{name} ({x})")).collect::<Vec<_>>().join(" × ");
    match product(factors) {
        Some(n) if n <= MAX_RUNS => Ok(n),
        Some(n) => Err((field, format!("{text} = {n} runs, more than the limit of {MAX_RUNS}"))),
        None => Err((field, format!("{text} overflows 64 bits, more than the limit of {MAX_RUNS} runs"))),
    }
}

/// `x <= MAX_COUNT` (2^53), the message naming the field.
pub fn require_count(x: u64, field: &'static str) -> Result<(), Invalid> {
    require(x <= MAX_COUNT, field, format!("{x}: expected at most 2^53 (counts are converted to f64, exact only up to 2^53)"))
}

/// A config value out of range; names the file, scale and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or parsing failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A number is infinite or NaN (TOML allows `inf` and `nan`; no setting
    /// of ours means either).
    #[error("{path}: {field} = {value}: every number in an experiment file must be finite")]
    NonFinite {
        /// The config file.
        path: String,
        /// The dotted path of the field, e.g. `cpu.phase2.lrs[1]`.
        field: String,
        /// The value found.
        value: f64,
    },
    /// A field of the `[rules]` table is out of range.
    #[error("{path}: [rules] {field}: {message}")]
    InvalidRule {
        /// The config file.
        path: String,
        /// The field.
        field: &'static str,
        /// What was expected.
        message: String,
    },
    /// The `[schedule]` table is out of range.
    #[error("{path}: [schedule] {message}")]
    InvalidSchedule {
        /// The config file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A field is out of range.
    #[error("{path}: [{scale}] {field}: {message}")]
    Invalid {
        /// The config file.
        path: String,
        /// The scale table.
        scale: Scale,
        /// The field.
        field: &'static str,
        /// What was expected.
        message: String,
    },
}

/// How an experiment's jobs share the machine: the file's `[schedule]`
/// table (issue 18). It never changes a result (a run's numbers do not
/// depend on its thread count or its worker), so it is not part of the
/// configs a results directory is checked against.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Intra-op threads per job (worker slots each takes), in a rayon pool
    /// of its own; one by default.
    #[serde(default = "one_thread")]
    pub threads_per_job: usize,
    /// Instead: each job takes one worker slot and runs its intra-op work on
    /// the process's shared rayon pool (one thread per core), beside the
    /// other such jobs' work.
    #[serde(default)]
    pub shared_pool: bool,
    /// The measurement behind the choice, quoted in the docs.
    #[serde(default)]
    pub measured: String,
}

fn one_thread() -> usize {
    1
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { threads_per_job: 1, shared_pool: false, measured: String::new() }
    }
}

/// Where a job's intra-op work runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntraOp {
    /// A rayon pool of its own with this many threads (it takes as many worker slots).
    Own(usize),
    /// The process's shared rayon pool (it takes one worker slot).
    Shared,
}

impl Schedule {
    /// What the table asks for.
    pub fn intra_op(&self) -> IntraOp {
        if self.shared_pool { IntraOp::Shared } else { IntraOp::Own(self.threads_per_job) }
    }
}

/// The most threads a job may ask for.
pub const MAX_THREADS_PER_JOB: usize = 256;

/// One scale's table of an experiment file.
pub trait ScaleTable: serde::Serialize {
    /// Checks every field's range.
    fn validate(&self) -> Result<(), Invalid>;
    /// The jobs of the scale, in a fixed order (shards are positions in it).
    fn jobs(&self) -> Vec<crate::harness::plan::Job>;
    /// Every run id of the scale, in the order the analysis reads the records.
    fn run_ids(&self) -> Vec<String>;
    /// Every run with its config as JSON: what its `runs/<id>/config.json`
    /// must hold for its record to count ([`crate::harness::plan::RunStore`]).
    fn run_configs(&self) -> Vec<(String, serde_json::Value)>;
}

/// An experiment file with a table per scale.
pub trait ExperimentFile: DeserializeOwned {
    /// The table type.
    type Table: ScaleTable;
    /// The `smoke`, `cpu` and `paper` tables.
    fn tables(&self) -> [&Self::Table; 3];

    /// Checks the `[rules]` table (the criteria's thresholds, fixed before
    /// the runs), for the files that have one.
    fn check_rules(&self) -> Result<(), Invalid>;

    /// The `[schedule]` table (defaults when absent).
    fn schedule(&self) -> &Schedule;

    /// The table of one scale.
    fn table(&self, scale: Scale) -> &Self::Table {
        let [smoke, cpu, paper] = self.tables();
        match scale {
            Scale::Smoke => smoke,
            Scale::Cpu => cpu,
            Scale::Paper => paper,
        }
    }
}

/// Declares an experiment file: `$file` (with `smoke`, `cpu` and `paper`
/// fields of type `$table`) implements [`ExperimentFile`], `$table`
/// implements [`ScaleTable`] through its inherent `validate`, `jobs` and
/// `runs` (whose items have an `id` and are what each run writes as its
/// `config.json`), and `$file` gets
/// `load(path)` (read and validate every table) and `scale(scale)`. With a
/// third argument `rules`, the file's `rules` field (a `[rules]` table with
/// an inherent `validate`) is checked on load too.
macro_rules! experiment_file {
    ($file:ty, $table:ty, rules) => {
        $crate::harness::config::experiment_file!(@impl $file, $table, |f: &$file| f.rules.validate());
    };
    ($file:ty, $table:ty) => {
        $crate::harness::config::experiment_file!(@impl $file, $table, |_: &$file| Ok(()));
    };
    (@impl $file:ty, $table:ty, $rules:expr) => {
        impl $crate::harness::config::ExperimentFile for $file {
            type Table = $table;
            fn tables(&self) -> [&$table; 3] {
                [&self.smoke, &self.cpu, &self.paper]
            }
            fn check_rules(&self) -> Result<(), $crate::harness::config::Invalid> {
                ($rules)(self)
            }
            fn schedule(&self) -> &$crate::harness::config::Schedule {
                &self.schedule
            }
        }

        impl $crate::harness::config::ScaleTable for $table {
            fn validate(&self) -> Result<(), $crate::harness::config::Invalid> {
                <$table>::validate(self)
            }
            fn jobs(&self) -> Vec<$crate::harness::plan::Job> {
                <$table>::jobs(self)
            }
            fn run_ids(&self) -> Vec<String> {
                <$table>::runs(self).into_iter().map(|r| r.id).collect()
            }
            fn run_configs(&self) -> Vec<(String, serde_json::Value)> {
                <$table>::runs(self)
                    .into_iter()
                    .map(|r| {
                        let json = serde_json::to_value(&r).expect("a run's config serialises to JSON");
                        (r.id, json)
                    })
                    .collect()
            }
        }

        impl $file {
            /// Reads and validates the experiment file.
            pub fn load(path: &std::path::Path) -> Result<Self, $crate::harness::config::ConfigError> {
                $crate::harness::config::load(path)
            }

            /// The table of one scale.
            pub fn scale(&self, scale: $crate::harness::scale::Scale) -> &$table {
                <Self as $crate::harness::config::ExperimentFile>::table(self, scale)
            }
        }
    };
}
pub(crate) use experiment_file;

/// Reads `path`, refuses any infinite or NaN number (naming its field), and
/// validates every scale's table.
pub fn load<E: ExperimentFile>(path: &Path) -> Result<E, ConfigError> {
    // Parsed twice on purpose: once untyped to find non-finite numbers with
    // their paths, once into `E` so serde's errors keep line and column.
    let raw: toml::Table = read_toml(path)?;
    if let Some((field, value)) = raw.iter().find_map(|(k, v)| first_non_finite(v, k)) {
        return Err(ConfigError::NonFinite { path: path.display().to_string(), field, value });
    }
    let exp: E = read_toml(path)?;
    exp.check_rules().map_err(|(field, message)| ConfigError::InvalidRule { path: path.display().to_string(), field, message })?;
    let threads = exp.schedule().threads_per_job;
    if !(1..=MAX_THREADS_PER_JOB).contains(&threads) {
        return Err(ConfigError::InvalidSchedule {
            path: path.display().to_string(),
            message: format!("threads_per_job = {threads}: must be in [1, {MAX_THREADS_PER_JOB}]"),
        });
    }
    for scale in [Scale::Smoke, Scale::Cpu, Scale::Paper] {
        exp.table(scale).validate().map_err(|(field, message)| ConfigError::Invalid {
            path: path.display().to_string(),
            scale,
            field,
            message,
        })?;
    }
    Ok(exp)
}

/// The first float in `v` that is infinite or NaN, with its dotted path.
fn first_non_finite(v: &toml::Value, at: &str) -> Option<(String, f64)> {
    match v {
        toml::Value::Float(x) if !x.is_finite() => Some((at.to_string(), *x)),
        toml::Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| first_non_finite(x, &format!("{at}[{i}]"))),
        toml::Value::Table(t) => t.iter().find_map(|(k, x)| first_non_finite(x, &format!("{at}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
#[path = "config_fuzz.rs"]
mod fuzz;

#[cfg(test)]
mod tests {
    use crate::matrix_sensing::MsExperiment;
    use crate::resnet::ResnetExperiment;
    use crate::uv::UvExperiment;

    fn experiments() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
    }

    /// `inf` passes a `> 0` check, so it is refused before any range check,
    /// with the file and the field's path in the message (issue 17); `nan`
    /// and numbers inside arrays and nested tables too.
    #[test]
    fn infinite_and_nan_numbers_are_refused_with_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let uv = std::fs::read_to_string(experiments().join("uv.toml")).unwrap();
        let path = dir.path().join("uv.toml");
        for (from, to, field) in [("eps = 0.1", "eps = inf", "smoke.eps"), ("eps = 0.1", "eps = nan", "smoke.eps")] {
            assert!(uv.contains(from));
            std::fs::write(&path, uv.replacen(from, to, 1)).unwrap();
            let err = UvExperiment::load(&path).unwrap_err().to_string();
            assert!(err.contains("uv.toml") && err.contains(field) && err.contains("finite"), "{err}");
        }
        let ms = std::fs::read_to_string(experiments().join("matrix-sensing.toml")).unwrap();
        let line = ms.lines().find(|l| l.trim_start().starts_with("init_sigma")).unwrap();
        let path = dir.path().join("matrix-sensing.toml");
        std::fs::write(&path, ms.replacen(line, "init_sigma = +inf", 1)).unwrap();
        let err = MsExperiment::load(&path).unwrap_err().to_string();
        assert!(err.contains("init_sigma") && err.contains("finite"), "{err}");
        let resnet = std::fs::read_to_string(experiments().join("resnet-cifar.toml")).unwrap();
        let line = resnet.lines().find(|l| l.trim_start().starts_with("lrs =")).unwrap();
        let path = dir.path().join("resnet-cifar.toml");
        std::fs::write(&path, resnet.replacen(line, "lrs = [0.05, inf]", 1)).unwrap();
        let err = ResnetExperiment::load(&path).unwrap_err().to_string();
        assert!(err.contains("lrs[1]") && err.contains("finite"), "{err}");
        // The real files load.
        UvExperiment::load(&experiments().join("uv.toml")).unwrap();
    }

    /// Issue 18: every committed file states its thread count and the
    /// measurement behind it; a count of 0, or past the bound, is refused
    /// naming `[schedule]`; a file without the table gets one thread.
    #[test]
    fn the_schedule_table_is_read_and_checked() {
        use crate::harness::config::ExperimentFile as _;
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(experiments().join("uv.toml")).unwrap();
        let uv = UvExperiment::load(&experiments().join("uv.toml")).unwrap();
        assert_eq!(uv.schedule().threads_per_job, 1);
        assert!(uv.schedule().measured.contains("2026-12-02"), "{:?}", uv.schedule());
        let path = dir.path().join("uv.toml");
        for bad in ["threads_per_job = 0", "threads_per_job = 257"] {
            std::fs::write(&path, text.replacen("threads_per_job = 1", bad, 1)).unwrap();
            let err = UvExperiment::load(&path).unwrap_err().to_string();
            assert!(err.contains("uv.toml") && err.contains("[schedule] threads_per_job"), "{err}");
        }
        std::fs::write(&path, text.replacen("threads_per_job = 1", "threads_per_job = 2", 1)).unwrap();
        assert_eq!(UvExperiment::load(&path).unwrap().schedule().threads_per_job, 2);
        let start = text.find("[schedule]").unwrap();
        let end = start + text[start..].find("\n[rules]").unwrap() + 1;
        std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
        assert_eq!(UvExperiment::load(&path).unwrap().schedule(), &super::Schedule::default());
        for name in ["theory", "uv", "matrix-sensing", "mlp-fashion", "resnet-cifar"] {
            let text = std::fs::read_to_string(experiments().join(format!("{name}.toml"))).unwrap();
            assert!(text.contains("[schedule]") && text.contains("measured = "), "{name}.toml states its schedule");
        }
    }

    fn uv() -> crate::uv::UvScale {
        UvExperiment::load(&experiments().join("uv.toml")).unwrap().smoke
    }

    fn ms() -> crate::matrix_sensing::MsScale {
        MsExperiment::load(&experiments().join("matrix-sensing.toml")).unwrap().smoke
    }

    fn resnet() -> crate::resnet::ResnetScale {
        ResnetExperiment::load(&experiments().join("resnet-cifar.toml")).unwrap().smoke
    }

    fn mlp() -> crate::mlp::MlpScale {
        crate::mlp::MlpExperiment::load(&experiments().join("mlp-fashion.toml")).unwrap().smoke
    }

    /// The field `validate` names, failing the test when it accepts.
    fn refused(r: Result<(), super::Invalid>) -> (&'static str, String) {
        r.expect_err("expected validate to refuse the table")
    }

    /// Tables are also built in code (tests, examples), so `validate` itself
    /// refuses infinite values that pass `> 0` (issue 17); each was accepted before.
    #[test]
    fn validate_refuses_infinite_values_that_pass_a_positivity_check() {
        let inf = f64::INFINITY;
        for (field, set) in [
            ("skip_factor", (|s: &mut crate::uv::UvScale| s.skip_factor = f64::INFINITY) as fn(&mut crate::uv::UvScale)),
            ("start_fraction", |s| s.start_fraction = f64::INFINITY),
            ("diverge_factor", |s| s.diverge_factor = f64::INFINITY),
            ("run_length_multiple", |s| s.run_length_multiple = f64::INFINITY),
            ("c_sweep_gamma", |s| s.c_sweep_gamma = f64::INFINITY),
        ] {
            let mut s = uv();
            set(&mut s);
            let (f, msg) = refused(s.validate());
            assert_eq!(f, field, "{msg}");
            assert!(msg.contains("inf"), "{msg}");
        }
        let mut s = uv();
        s.c_sweep[1] = inf;
        assert_eq!(refused(s.validate()).1, "c_sweep[1] = inf: expected no values or at least 3, each > 0");
        let mut s = ms();
        s.init_sigma = inf;
        assert_eq!(refused(s.validate()).0, "init_sigma");
        let mut s = ms();
        s.phase1_lr = inf;
        assert_eq!(refused(s.validate()).0, "phase1_lr");
        let mut s = ms();
        s.dd_lr = inf;
        assert_eq!(refused(s.validate()).0, "dd_lr");
        let mut s = resnet();
        s.phase3.lr = inf;
        assert_eq!(refused(s.validate()).0, "phase3.lr");
        let mut s = resnet();
        s.phase2.gamma = inf;
        assert_eq!(refused(s.validate()).0, "phase2.gamma");
        // And NaN, which fails every comparison but is easy to let through a negated one.
        let mut s = uv();
        s.start_fraction = f64::NAN;
        assert_eq!(refused(s.validate()).0, "start_fraction");
    }

    /// A huge size is a field error stating the memory it implies, not an
    /// allocation abort (UV `n = 1e10` aborted inside `validate` itself).
    #[test]
    fn huge_sizes_are_field_errors_that_state_the_memory() {
        let mut s = uv();
        s.n = 10_000_000_000;
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "n");
        assert!(msg.contains("n + 6·d (10000000030)") && msg.contains("more than the 64.0 GiB limit"), "{msg}");
        let mut s = uv();
        s.d = usize::MAX / 2;
        assert!(refused(s.validate()).1.contains("GiB limit"));
        let mut s = ms();
        s.n = 10_000_000_000;
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "n");
        assert!(msg.contains("n (10000000000) × d (") && msg.contains("TiB, more than the 64.0 GiB limit"), "{msg}");
        let mut s = ms();
        s.d = 1 << 40;
        s.r = 1;
        s.h = 1;
        assert!(refused(s.validate()).1.contains("overflows 64 bits"));
        let mut s = mlp();
        s.widths[2] = 10_000_000_000;
        assert_eq!(refused(s.validate()).0, "widths");
        let mut s = resnet();
        s.base_width = 10_000_000_000;
        assert_eq!(refused(s.validate()).0, "base_width");
        let mut s = resnet();
        s.run_seeds = (0..2_000_000).collect();
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "run_seeds");
        assert!(msg.contains("runs, more than the limit of 1000000"), "{msg}");
    }

    /// `log_every × max_points` wrapped to 0 and `runs()` divided by it: a
    /// panic inside `validate` before; a field error now.
    #[test]
    fn log_every_times_max_points_is_checked() {
        let mut s = uv();
        s.log_every = 1 << 33;
        s.max_points = 1 << 31;
        s.max_steps = 1 << 40;
        let r = std::panic::catch_unwind(|| s.validate());
        let (field, msg) = refused(r.expect("validate must not panic"));
        assert_eq!(field, "max_points");
        assert!(msg.contains("log_every (8589934592) × max_points (2147483648)"), "{msg}");
        // And `10 · log_every` of the max_steps check.
        let mut s = ms();
        s.log_every = u64::MAX / 5;
        assert_eq!(refused(s.validate()).0, "steps");
    }

    /// A warm-up η that underflows to 0 reached HeavyBall::step's panic;
    /// `validate` now names phase1.lr and the epoch (issue 17). The cosine's
    /// last epoch can underflow too, with a long enough schedule.
    #[test]
    fn every_scheduled_learning_rate_is_positive() {
        let mut s = resnet();
        s.phase1.lr = 5e-324;
        assert!(s.phase1_lr(0) == 0.0, "the case this test is about");
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "phase1.lr");
        assert!(msg.contains("at epoch 0"), "{msg}");
        let mut s = resnet();
        s.phase1.warmup_epochs = 0;
        s.phase1.total_epochs = 1 << 40;
        assert!(s.phase1_lr(s.phase1.total_epochs - 1) == 0.0, "the case this test is about");
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "phase1.lr");
        assert!(msg.contains(&format!("at epoch {}", (1u64 << 40) - 1)), "{msg}");
        // The committed schedules are positive at every epoch.
        let exp = ResnetExperiment::load(&experiments().join("resnet-cifar.toml")).unwrap();
        for scale in [crate::harness::scale::Scale::Smoke, crate::harness::scale::Scale::Cpu, crate::harness::scale::Scale::Paper] {
            let t = exp.scale(scale);
            assert!((0..t.phase1.total_epochs).all(|e| t.phase1_lr(e) > 0.0));
        }
    }

    /// Two values that print alike in run ids gave "run id appears twice"
    /// from `validate_jobs`, naming neither file nor field; `validate` now
    /// names the field and both indices.
    #[test]
    fn values_that_print_alike_in_run_ids_name_the_field_and_both_indices() {
        let mut s = uv();
        s.lrs = vec![1e-3, 1.01e-3, 1e-2];
        s.c_sweep_lrs = vec![1e-3];
        assert_eq!(refused(s.validate()), ("lrs", "lrs[0] and lrs[1] both appear as \"lr1.0e-3\" in run ids; expected values that differ there".into()));
        let mut s = uv();
        s.gammas.push(s.gammas[1] + 1e-6);
        assert!(refused(s.validate()).1.starts_with("gammas[1] and gammas[3]"));
        let mut s = mlp();
        s.lrs = vec![1e-7, 2e-7, 0.01];
        let (field, msg) = refused(s.validate());
        assert_eq!(field, "lrs");
        assert!(msg.starts_with("lrs[0] and lrs[1] both appear as \"lr0\""), "{msg}");
        let mut s = ms();
        s.lrs = vec![0.1, 0.10000001];
        assert!(refused(s.validate()).1.starts_with("lrs[0] and lrs[1]"));
        let mut s = resnet();
        s.phase2.c_multipliers = vec![1.0, 1.0];
        assert_eq!(refused(s.validate()).0, "phase2.c_multipliers");
        // validate_jobs, the last line of defence, names both places.
        let job = |id: &str, runs: &[&str]| crate::harness::plan::Job { id: id.into(), runs: runs.iter().map(|r| r.to_string()).collect() };
        let err = crate::harness::plan::validate_jobs(&[job("a", &["x", "y"]), job("b", &["z", "y"])]).unwrap_err();
        assert!(err.contains("\"y\" appears twice (run 1 of job \"a\" and run 1 of job \"b\")"), "{err}");
        let err = crate::harness::plan::validate_jobs(&[job("a", &["x"]), job("a", &["z"])]).unwrap_err();
        assert!(err.contains("jobs 0 and 1"), "{err}");
        let long = "x".repeat(300);
        assert!(crate::harness::plan::validate_jobs(&[job("a", &[&long])]).unwrap_err().contains("file name"));
    }

    /// Through `load`, a size error names the file, the scale table and the field.
    #[test]
    fn load_errors_name_file_scale_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(experiments().join("uv.toml")).unwrap();
        let cpu = text.find("[cpu]").unwrap();
        let n = cpu + text[cpu..].find("\nn = ").unwrap() + 1;
        let end = n + text[n..].find('\n').unwrap();
        let path = dir.path().join("uv.toml");
        std::fs::write(&path, format!("{}n = 10000000000{}", &text[..n], &text[end..])).unwrap();
        let err = UvExperiment::load(&path).unwrap_err().to_string();
        assert!(err.contains("uv.toml: [cpu] n: ") && err.contains("64.0 GiB limit"), "{err}");
    }
}
