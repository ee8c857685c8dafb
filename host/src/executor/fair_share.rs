//! Fair claiming: one account's backlog or long jobs cannot take every slot of a node
//! while another account's jobs wait (`[server] account_share`).

use std::collections::HashMap;

/// How many slots one account may hold while others wait, and how many stay free for
/// others when it takes more.
#[derive(Debug, Clone, Copy)]
pub(super) struct FairShare {
    pub cap: usize,
    pub reserve: usize,
}

impl FairShare {
    pub fn of(concurrency: usize, share: f64) -> Self {
        let share = if share.is_finite() {
            share.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let cap = ((concurrency as f64 * share).ceil() as usize).clamp(1, concurrency);
        let reserve = if cap >= concurrency {
            0
        } else {
            (concurrency / 8).max(1)
        };
        Self { cap, reserve }
    }

    /// What the next claim may take, given how many jobs each account runs here: the
    /// accounts at their cap are left out, and the batch is no larger than the smallest
    /// headroom of the others, so one batch cannot carry an account past its cap.
    pub fn plan(&self, running: &HashMap<String, usize>, free: usize, batch: usize) -> ClaimPlan {
        let mut at_cap = Vec::new();
        let mut headroom = self.cap;
        for (account, n) in running {
            if *n >= self.cap {
                at_cap.push(account.clone());
            } else {
                headroom = headroom.min(self.cap - n);
            }
        }
        at_cap.sort();
        ClaimPlan {
            at_cap,
            want: free.min(batch.max(1)).min(headroom),
        }
    }
}

/// The next claim: whose jobs wait, and how many to take.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ClaimPlan {
    pub at_cap: Vec<String>,
    pub want: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(pairs: &[(&str, usize)]) -> HashMap<String, usize> {
        pairs.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect()
    }

    #[test]
    fn shares_and_reserve() {
        let f = FairShare::of(16, 0.5);
        assert_eq!((f.cap, f.reserve), (8, 2));
        let off = FairShare::of(16, 1.0);
        assert_eq!((off.cap, off.reserve), (16, 0));
        assert_eq!(FairShare::of(4, 0.0).cap, 1, "at least one slot");
        assert_eq!(FairShare::of(4, f64::NAN).cap, 4, "nonsense turns it off");
    }

    #[test]
    fn a_batch_never_carries_an_account_past_its_cap() {
        let f = FairShare::of(8, 0.5); // cap 4
        // Nobody runs anything: a batch up to the cap.
        assert_eq!(f.plan(&running(&[]), 8, 100).want, 4);
        // team-a runs 3: one more of its jobs at most, whichever account the batch takes.
        let plan = f.plan(&running(&[("team-a", 3)]), 5, 100);
        assert_eq!(
            plan,
            ClaimPlan {
                at_cap: vec![],
                want: 1
            }
        );
        // team-a at its cap is left out; team-b runs 2, so two more.
        let plan = f.plan(&running(&[("team-a", 4), ("team-b", 2)]), 2, 100);
        assert_eq!(
            plan,
            ClaimPlan {
                at_cap: vec!["team-a".into()],
                want: 2
            }
        );
        // Free slots and the batch size bound it too.
        assert_eq!(f.plan(&running(&[("team-a", 1)]), 2, 100).want, 2);
        assert_eq!(f.plan(&running(&[]), 8, 3).want, 3);
    }
}
