//! The worker pool every multi-run command shares (`check`, `run --seeds`,
//! `compare --seeds`): independent jobs on up to `jobs` threads, longest
//! first, results stored by job index so they do not depend on the number
//! of threads or on which thread ran what.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Run jobs `0..costs.len()` on up to `jobs` threads, the costliest first
/// (ties in index order), calling `progress(done, total)` on the calling
/// thread after each job. Returns the results by job index: the same
/// whatever `jobs`, since each job is a pure function of its index.
pub fn run_parallel<T: Send>(
    costs: &[f64],
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut progress: impl FnMut(usize, usize),
) -> Vec<T> {
    let n = costs.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let jobs = jobs.clamp(1, n.max(1));
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, order, work) = (&next, &order, &work);
            s.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let r = work(i);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, r) in rx {
            slots[i] = Some(r);
            done += 1;
            progress(done, n);
        }
    });
    slots
        .into_iter()
        .map(|s| s.expect("every job ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::run_parallel;

    #[test]
    fn results_by_index_whatever_the_threads() {
        let costs: Vec<f64> = (0..37).map(|i| ((i * 7) % 11) as f64).collect();
        let serial = run_parallel(&costs, 1, |i| i * i, |_, _| {});
        for jobs in [2, 3, 8, 100] {
            assert_eq!(run_parallel(&costs, jobs, |i| i * i, |_, _| {}), serial);
        }
        let mut seen = Vec::new();
        run_parallel(&costs, 4, |i| i, |d, t| seen.push((d, t)));
        assert_eq!(seen.last(), Some(&(37, 37)));
        assert!(run_parallel(&[], 4, |i: usize| i, |_, _| {}).is_empty());
    }
}
