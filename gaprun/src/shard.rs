//! Deterministic sharding: which tasks shard K of N runs.
//!
//! `gaprun run|test|batch --shard K/N` and the Slurm job arrays of
//! `gaprun slurm submit` split one list of tasks into N shards. The split must
//! be a pure function of the input — every array task computes its own share
//! on its own node, and `collect` must know which shard owed which result — so
//! it lives here, free of I/O, and is property-tested.
//!
//! The rule is greedy "longest first" (LPT): tasks are taken heaviest first
//! (ties in input order) and each goes to the shard with the least weight so
//! far (ties to the lowest shard). With equal weights this is exactly
//! round-robin (task i to shard i mod N), which spreads neighbouring tasks —
//! often of similar cost, e.g. groups of increasing order — over all shards.
//! With weights (`test` uses file sizes, the order it already runs files in),
//! no shard carries more than the lightest one plus the heaviest single task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based), as written `K/N` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, 0-based (`K - 1` of `K/N`).
    pub index: usize,
    /// How many shards the input is split into (`N`); at least 1.
    pub count: usize,
}

impl Shard {
    /// The whole input as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}`: a shard is K/N with 0 <= K < N (e.g. 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).ok_or_else(bad)
    }
}

/// For every task (by input index), the shard it belongs to, for tasks of
/// the given weights split into `count` shards (`count` >= 1).
pub fn assign(weights: &[u64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable: equal weights keep input order.
    order.sort_by_key(|&i| Reverse(weights[i]));
    // Min-heap of (load, shard): the least-loaded shard, lowest index on ties.
    let mut loads: BinaryHeap<Reverse<(u128, usize)>> =
        (0..count).map(|s| Reverse((0u128, s))).collect();
    let mut shard_of = vec![0; weights.len()];
    for i in order {
        let Some(Reverse((load, s))) = loads.pop() else {
            unreachable!("count >= 1 shards are always in the heap")
        };
        shard_of[i] = s;
        loads.push(Reverse((load + u128::from(weights[i]), s)));
    }
    shard_of
}

/// The input indices (ascending) of the tasks in `shard`.
pub fn select(weights: &[u64], shard: Shard) -> Vec<usize> {
    assign(weights, shard.count)
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| (s == shard.index).then_some(i))
        .collect()
}

/// Every shard's input indices (ascending), shard 0 first.
pub fn partition(weights: &[u64], count: usize) -> Vec<Vec<usize>> {
    let mut shards = vec![Vec::new(); count.max(1)];
    for (i, s) in assign(weights, count).into_iter().enumerate() {
        shards[s].push(i);
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::ALL));
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard::new(3, 8).unwrap().to_string(), "3/8");
    }

    #[test]
    fn equal_weights_are_round_robin() {
        assert_eq!(assign(&[1; 7], 3), vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(select(&[5; 10], Shard::new(1, 4).unwrap()), vec![1, 5, 9]);
    }

    #[test]
    fn heavy_tasks_are_spread_first() {
        // 10 and 9 go to different shards, then each 1 to the lighter one
        // (on a tie, the lower shard).
        assert_eq!(
            partition(&[1, 10, 1, 9, 1], 2),
            vec![vec![1, 2], vec![0, 3, 4]]
        );
    }

    proptest! {
        #[test]
        fn every_task_in_exactly_one_shard(
            weights in prop::collection::vec(0u64..1000, 0..300),
            count in 1usize..20,
        ) {
            let shards = partition(&weights, count);
            prop_assert_eq!(shards.len(), count);
            let mut seen = vec![0; weights.len()];
            for (k, s) in shards.iter().enumerate() {
                prop_assert!(s.windows(2).all(|w| w[0] < w[1]), "ascending");
                prop_assert_eq!(s, &select(&weights, Shard::new(k, count).unwrap()));
                for &i in s {
                    seen[i] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }

        #[test]
        fn stable_for_the_same_input(
            weights in prop::collection::vec(0u64..1000, 0..300),
            count in 1usize..20,
        ) {
            prop_assert_eq!(assign(&weights, count), assign(&weights.clone(), count));
        }

        #[test]
        fn balanced(
            weights in prop::collection::vec(0u64..1_000_000, 0..300),
            count in 1usize..20,
        ) {
            let shards = partition(&weights, count);
            let loads: Vec<u64> = shards.iter().map(|s| s.iter().map(|&i| weights[i]).sum()).collect();
            let heaviest = weights.iter().copied().max().unwrap_or(0);
            let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
            prop_assert!(hi - lo <= heaviest, "loads {loads:?}, heaviest task {heaviest}");
            // By count, with equal weights: sizes differ by at most one.
            let sizes: Vec<usize> = partition(&vec![1; weights.len()], count).iter().map(Vec::len).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
        }
    }
}
