//! One job queue for a whole invocation (issue 18).
//!
//! Every experiment of an invocation is expanded up front into nodes: its
//! setup (the MLP's valley, ResNet's phase 1, data loading), one node per job
//! of this shard, and its analysis. A node names the nodes it needs
//! ([`Node::deps`]); a free worker takes the ready node with the longest
//! expected path to the end of the graph (its own expected time plus that of
//! the longest chain of nodes waiting on it), from any experiment. So the
//! setups, which gate most of the work, start first, the long ResNet runs
//! before the short MLP runs, and the analyses of finished experiments run
//! while the others still train.
//!
//! Each worker runs its node inside a rayon pool of the node's thread count
//! (one by default): Burn's flex backend takes its intra-op threads from the
//! current rayon pool, so one worker per core with one thread each keeps every
//! core busy without oversubscribing them. A node that wants k threads takes
//! k of the worker slots.
//!
//! A node marked [`Node::exclusive`] never runs beside another such node.
//! The setups are: they seed the backend's random generator, which Burn keeps
//! per process (`Backend::seed`), and draw their initial weights from it
//! lazily, at the first forward pass; two at once would interleave their draws.
//!
//! The first error (or panic) stops the queue from starting new nodes; the
//! running ones finish, and the error is returned. Everything a finished node
//! wrote stays on disk, so a rerun resumes.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::harness::config::IntraOp;
use crate::harness::progress::Progress;

/// A unit of work in the queue.
pub struct Node<'s> {
    /// What the progress display and errors call it (`mlp-fashion/valley`).
    pub label: String,
    /// Which experiment it belongs to (an index into the invocation's list):
    /// the ETA scales each experiment's estimates by its measured times.
    pub group: usize,
    /// Expected seconds on one core of the reference machine: an estimate
    /// from the job's size, for ordering and the first ETA.
    pub cost: f64,
    /// Where its intra-op work runs: a pool of its own of k threads (it takes
    /// k worker slots), or the process's shared pool (one slot).
    pub intra_op: IntraOp,
    /// Never run beside another exclusive node (see the module docs).
    pub exclusive: bool,
    /// Counted in "jobs done": a training job, not a setup or an analysis.
    pub job: bool,
    /// Taken before any other ready node (an experiment's analysis: short,
    /// and its summary is then on disk while the others still train, rather
    /// than waiting behind every longer job of the queue).
    pub first: bool,
    /// The nodes it needs, all earlier in the list.
    pub deps: Vec<usize>,
    /// The work.
    pub work: Box<dyn FnOnce() -> anyhow::Result<()> + Send + 's>,
}

/// What the queue records about each node as it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Ran {
    /// The node's label.
    pub label: String,
    /// Seconds since the queue started, when it started and ended.
    pub start: f64,
    /// See `start`.
    pub end: f64,
}

struct State<'s> {
    work: Vec<Option<Box<dyn FnOnce() -> anyhow::Result<()> + Send + 's>>>,
    done: Vec<bool>,
    started: Vec<Option<Instant>>,
    free: usize,
    exclusive_running: bool,
    failed: Option<anyhow::Error>,
    log: Vec<Ran>,
    measured: Vec<(f64, f64)>,
    jobs_done: usize,
}

/// The rank of every node: its cost plus the largest rank among the nodes
/// that need it (the expected time from its start to the end of the graph).
pub fn ranks(costs: &[f64], deps: &[Vec<usize>]) -> Vec<f64> {
    let mut rank: Vec<f64> = costs.to_vec();
    for i in (0..costs.len()).rev() {
        for &d in &deps[i] {
            rank[d] = rank[d].max(costs[d] + rank[i]);
        }
    }
    rank
}

/// A node not yet done, as the ETA sees it.
#[derive(Clone, Copy, Debug)]
pub struct Left {
    /// Its estimated cost, seconds.
    pub cost: f64,
    /// Its experiment.
    pub group: usize,
    /// Seconds it has run so far (0 if waiting).
    pub spent: f64,
}

/// The expected seconds until every node in `left` is done on `workers`
/// slots. Each experiment's estimates are scaled by its measured ratio
/// (seconds taken over seconds estimated, summed over its finished jobs:
/// `measured[group] = (taken, estimated)`), or by the ratio pooled over every
/// experiment while it has none; a running node counts what it has left.
pub fn seconds_left(left: &[Left], measured: &[(f64, f64)], workers: usize) -> f64 {
    let (taken, estimated) = measured.iter().fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let pooled = if estimated > 0.0 { taken / estimated } else { 1.0 };
    let ratio = |g: usize| match measured.get(g) {
        Some(&(t, e)) if e > 0.0 => t / e,
        _ => pooled,
    };
    let total: f64 = left.iter().map(|n| (n.cost * ratio(n.group) - n.spent).max(0.0)).sum();
    total / workers.max(1) as f64
}

/// Runs every node on `workers` worker slots, each node once its
/// dependencies are done; returns when all are done or, after the first
/// failure, when the running ones are. Updates `progress` as nodes finish.
pub fn run(nodes: Vec<Node<'_>>, workers: usize, progress: &Progress) -> anyhow::Result<Vec<Ran>> {
    let workers = workers.max(1);
    for (i, n) in nodes.iter().enumerate() {
        anyhow::ensure!(n.deps.iter().all(|&d| d < i), "queue node {} needs a later node", n.label);
    }
    let costs: Vec<f64> = nodes.iter().map(|n| n.cost.max(0.0)).collect();
    let deps: Vec<Vec<usize>> = nodes.iter().map(|n| n.deps.clone()).collect();
    let rank = ranks(&costs, &deps);
    let slots = |n: &Node<'_>| match n.intra_op {
        IntraOp::Own(k) => k.clamp(1, workers),
        IntraOp::Shared => 1,
    };
    let meta: Vec<(String, usize, usize, bool, bool)> = nodes.iter().map(|n| (n.label.clone(), n.group, slots(n), n.exclusive, n.job)).collect();
    let shared: Vec<bool> = nodes.iter().map(|n| n.intra_op == IntraOp::Shared).collect();
    let first: Vec<bool> = nodes.iter().map(|n| n.first).collect();
    let groups = meta.iter().map(|m| m.1 + 1).max().unwrap_or(0);
    let total_jobs = meta.iter().filter(|m| m.4).count();
    let t0 = Instant::now();
    let state = Mutex::new(State {
        work: nodes.into_iter().map(|n| Some(n.work)).collect(),
        done: vec![false; costs.len()],
        started: vec![None; costs.len()],
        free: workers,
        exclusive_running: false,
        failed: None,
        log: Vec::new(),
        measured: vec![(0.0, 0.0); groups],
        jobs_done: 0,
    });
    let wake = Condvar::new();
    progress.plan(total_jobs);
    let eta = |s: &State<'_>| -> f64 {
        let left: Vec<Left> = (0..costs.len())
            .filter(|&i| !s.done[i])
            .map(|i| Left { cost: costs[i], group: meta[i].1, spent: s.started[i].map_or(0.0, |t| t.elapsed().as_secs_f64()) })
            .collect();
        seconds_left(&left, &s.measured, workers)
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut s = state.lock().expect("queue lock");
                loop {
                    if s.failed.is_some() {
                        return;
                    }
                    // The ready node of highest rank; if it does not fit now, wait for it.
                    let ready = (0..costs.len())
                        .filter(|&i| s.work[i].is_some() && deps[i].iter().all(|&d| s.done[d]))
                        .filter(|&i| !(meta[i].3 && s.exclusive_running))
                        .max_by(|&a, &b| first[a].cmp(&first[b]).then(rank[a].total_cmp(&rank[b])).then(b.cmp(&a)));
                    let Some(i) = ready else {
                        if s.work.iter().all(Option::is_none) {
                            return;
                        }
                        s = wake.wait(s).expect("queue lock");
                        continue;
                    };
                    let slots = meta[i].2;
                    if s.free < slots {
                        s = wake.wait(s).expect("queue lock");
                        continue;
                    }
                    let work = s.work[i].take().expect("a ready node has its work");
                    s.free -= slots;
                    s.exclusive_running |= meta[i].3;
                    s.started[i] = Some(Instant::now());
                    let start = t0.elapsed().as_secs_f64();
                    drop(s);
                    let result = run_node(&meta[i].0, (!shared[i]).then_some(slots), work);
                    s = state.lock().expect("queue lock");
                    let end = t0.elapsed().as_secs_f64();
                    s.free += slots;
                    if meta[i].3 {
                        s.exclusive_running = false;
                    }
                    s.log.push(Ran { label: meta[i].0.clone(), start, end });
                    match result {
                        Ok(()) => {
                            s.done[i] = true;
                            if meta[i].4 {
                                s.measured[meta[i].1].0 += end - start;
                                s.measured[meta[i].1].1 += costs[i];
                                s.jobs_done += 1;
                                let running = s.started.iter().zip(&s.done).filter(|(t, d)| t.is_some() && !**d).count();
                                progress.job_done(s.jobs_done, total_jobs, running, eta(&s));
                            }
                        }
                        Err(e) => {
                            s.failed.get_or_insert(e);
                        }
                    }
                    wake.notify_all();
                }
            });
        }
    });
    let s = state.into_inner().expect("queue lock");
    progress.finish();
    match s.failed {
        Some(e) => Err(e),
        None => Ok(s.log),
    }
}

/// Runs one node's work in a rayon pool of `threads` threads of its own, or
/// (`None`) on this worker thread with the shared pool; a panic is an error.
fn run_node(label: &str, threads: Option<usize>, work: Box<dyn FnOnce() -> anyhow::Result<()> + Send + '_>) -> anyhow::Result<()> {
    let caught = match threads {
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("flatter-op-{i}"))
                .build()
                .map_err(|e| anyhow!("starting {threads} threads for {label}: {e}"))?;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.install(work)))
        }
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)),
    };
    match caught {
        // The label first, then the whole chain, in one message: callers and
        // tests read `to_string()`, which shows only an error's outer layer.
        Ok(result) => result.map_err(|e| anyhow!("{label}: {e:#}")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".to_string());
            Err(anyhow!("{label} panicked: {what}"))
        }
    }
}

/// Formats seconds as `1h02m`, `12m30s` or `45s`.
pub fn hms(seconds: f64) -> String {
    let s = Duration::from_secs_f64(seconds.max(0.0)).as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn node<'s>(label: &str, group: usize, cost: f64, deps: Vec<usize>, work: impl FnOnce() -> anyhow::Result<()> + Send + 's) -> Node<'s> {
        Node { label: label.into(), group, cost, intra_op: IntraOp::Own(1), exclusive: false, job: true, first: false, deps, work: Box::new(work) }
    }

    #[test]
    fn ranks_are_the_longest_path_to_the_end() {
        // 0 -> 1 -> 3, 0 -> 2; costs 1, 5, 2, 3.
        let r = ranks(&[1.0, 5.0, 2.0, 3.0], &[vec![], vec![0], vec![0], vec![1]]);
        assert_eq!(r, vec![9.0, 8.0, 2.0, 3.0]);
    }

    /// A job waits for its dependency in another experiment's part of the
    /// queue, while the other experiment's ready jobs run meanwhile; an
    /// analysis waits for all its jobs; the longest-ranked ready node starts
    /// first.
    #[test]
    fn jobs_wait_for_their_dependencies_across_experiments() {
        let progress = Progress::new(false);
        let sleep = |ms| move || -> anyhow::Result<()> {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        };
        let nodes = vec![
            node("a/setup", 0, 10.0, vec![], sleep(300)),
            node("a/job1", 0, 1.0, vec![0], sleep(20)),
            node("a/job2", 0, 1.0, vec![0], sleep(20)),
            node("b/job1", 1, 1.0, vec![], sleep(50)),
            node("b/job2", 1, 1.0, vec![], sleep(50)),
            node("a/analysis", 0, 0.1, vec![1, 2], sleep(1)),
            node("b/analysis", 1, 0.1, vec![3, 4], sleep(1)),
            node("c/needs-a-and-b", 2, 0.1, vec![5, 6], sleep(1)),
        ];
        let log = run(nodes, 2, &progress).unwrap();
        let at = |l: &str| log.iter().find(|r| r.label == l).unwrap_or_else(|| panic!("{l} ran")).clone();
        assert_eq!(log.len(), 8);
        assert_eq!(log.iter().min_by(|a, b| a.start.total_cmp(&b.start)).unwrap().label, "a/setup", "highest rank first");
        for j in ["a/job1", "a/job2"] {
            assert!(at(j).start >= at("a/setup").end, "{j} started before its setup ended: {log:?}");
        }
        for j in ["b/job1", "b/job2", "b/analysis"] {
            assert!(at(j).end <= at("a/setup").end, "{j} did not run beside a's setup: {log:?}");
        }
        assert!(at("a/analysis").start >= at("a/job1").end.max(at("a/job2").end));
        assert!(at("c/needs-a-and-b").start >= at("a/analysis").end.max(at("b/analysis").end));
    }

    /// A ready analysis (`first`) goes before longer ready jobs.
    #[test]
    fn a_ready_analysis_goes_first() {
        let progress = Progress::new(false);
        let quick = || -> anyhow::Result<()> {
            std::thread::sleep(Duration::from_millis(10));
            Ok(())
        };
        let mut nodes = vec![node("a/job", 0, 10.0, vec![], quick)];
        let mut analysis = node("a/analysis", 0, 0.1, vec![0], quick);
        analysis.first = true;
        analysis.job = false;
        nodes.push(analysis);
        for k in 0..3 {
            nodes.push(node(&format!("b/job{k}"), 1, 5.0, vec![], quick));
        }
        let log = run(nodes, 1, &progress).unwrap();
        let order: Vec<&str> = log.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(order[..2], ["a/job", "a/analysis"], "{order:?}");
    }

    /// Exclusive nodes never overlap; a node wanting two threads runs alone on
    /// two slots; the rayon pool it runs in has that many threads.
    #[test]
    fn exclusive_nodes_and_thread_counts_are_honoured() {
        let progress = Progress::new(false);
        let running = AtomicUsize::new(0);
        let overlap = AtomicUsize::new(0);
        let threads_seen = Mutex::new(Vec::new());
        let mut nodes = Vec::new();
        for k in 0..4 {
            let (running, overlap) = (&running, &overlap);
            let mut n = node(&format!("setup{k}"), k, 1.0, vec![], move || {
                if running.fetch_add(1, Ordering::SeqCst) > 0 {
                    overlap.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
            n.exclusive = true;
            nodes.push(n);
        }
        let seen = &threads_seen;
        let mut wide = node("wide", 9, 0.5, vec![], move || {
            seen.lock().unwrap().push(rayon::current_num_threads());
            Ok(())
        });
        wide.intra_op = IntraOp::Own(2);
        nodes.push(wide);
        nodes.push(node("narrow", 9, 0.5, vec![], move || {
            seen.lock().unwrap().push(rayon::current_num_threads());
            Ok(())
        }));
        // A shared-pool node runs on its worker thread, outside any pool of its own.
        let mut on_shared = node("shared", 9, 0.5, vec![], move || {
            seen.lock().unwrap().push(if rayon::current_thread_index().is_none() { 1000 } else { 0 });
            Ok(())
        });
        on_shared.intra_op = IntraOp::Shared;
        nodes.push(on_shared);
        run(nodes, 2, &progress).unwrap();
        assert_eq!(overlap.load(Ordering::SeqCst), 0, "two exclusive nodes ran at once");
        let mut seen = threads_seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2, 1000]);
    }

    /// The first failure stops new nodes (the dependants of the failed one
    /// never run) and is returned with the node's label; a panic is an error
    /// too, and the queue does not hang.
    #[test]
    fn a_failure_stops_the_queue_and_names_the_node() {
        let progress = Progress::new(false);
        let ran = AtomicUsize::new(0);
        let r = &ran;
        let nodes = vec![
            node("x/setup", 0, 5.0, vec![], || -> anyhow::Result<()> { anyhow::bail!("no data") }),
            node("x/job", 0, 1.0, vec![0], move || {
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
        ];
        let err = run(nodes, 2, &progress).unwrap_err();
        assert!(format!("{err:#}").contains("x/setup: no data"), "{err:#}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        let nodes = vec![node("y/job", 0, 1.0, vec![], || -> anyhow::Result<()> { panic!("boom") })];
        let err = run(nodes, 2, &progress).unwrap_err();
        assert!(format!("{err:#}").contains("y/job panicked: boom"), "{err:#}");
    }

    /// The ETA follows the measured times: an experiment whose jobs took
    /// twice their estimate has its remaining jobs doubled; one with none
    /// finished takes the pooled ratio; running nodes count what is left.
    #[test]
    fn the_eta_scales_estimates_by_measured_times() {
        let left = |cost, group, spent| Left { cost, group, spent };
        // Nothing measured: the estimates as they are, shared by the slots.
        assert_eq!(seconds_left(&[left(10.0, 0, 0.0), left(6.0, 1, 0.0)], &[(0.0, 0.0), (0.0, 0.0)], 2), 8.0);
        // Group 0 ran at 2x its estimates, group 1 at 0.5x.
        let measured = [(20.0, 10.0), (5.0, 10.0)];
        assert_eq!(seconds_left(&[left(10.0, 0, 0.0)], &measured, 1), 20.0);
        assert_eq!(seconds_left(&[left(10.0, 1, 0.0)], &measured, 1), 5.0);
        // Group 2 has finished nothing: pooled (25 s over 20 s estimated).
        assert_eq!(seconds_left(&[left(8.0, 2, 0.0)], &measured, 1), 10.0);
        // A running node counts what is left, never less than nothing.
        assert_eq!(seconds_left(&[left(10.0, 0, 15.0)], &measured, 1), 5.0);
        assert_eq!(seconds_left(&[left(10.0, 0, 50.0)], &measured, 1), 0.0);
    }

    /// In the queue, the ETA reported after each job is the time the
    /// remaining jobs then took, within a factor of two: here the estimates
    /// are 1 s and every job takes 60 ms, two at a time.
    #[test]
    fn the_queue_reports_an_eta_from_measured_job_times() {
        let progress = Progress::new(false);
        let nodes: Vec<Node<'_>> = (0..12)
            .map(|k| {
                node(&format!("j{k}"), 0, 1.0, vec![], || {
                    std::thread::sleep(Duration::from_millis(60));
                    Ok(())
                })
            })
            .collect();
        let t0 = Instant::now();
        let mut at = Vec::new();
        let log = run(nodes, 2, &progress).unwrap();
        let total = t0.elapsed().as_secs_f64();
        let mut ends: Vec<f64> = log.iter().map(|r| r.end).collect();
        ends.sort_by(f64::total_cmp);
        for &(done, eta) in progress.etas.lock().unwrap().iter() {
            at.push((done, eta, ends[11] - ends[done - 1]));
        }
        assert_eq!(at.len(), 12, "{at:?}");
        for &(done, eta, actual) in &at[2..10] {
            assert!(eta > 0.5 * actual && eta < 2.0 * actual + 0.03, "after {done} jobs the ETA was {eta:.3} s, the rest took {actual:.3} s ({total:.2} s in all): {at:?}");
        }
    }

    #[test]
    fn hms_formats() {
        assert_eq!(hms(45.2), "45s");
        assert_eq!(hms(750.0), "12m30s");
        assert_eq!(hms(3720.0), "1h02m");
    }
}
