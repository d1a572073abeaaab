//! What all request bodies being received may hold together (`RENDEZ_MAX_BODIES_IN_FLIGHT`).
//! A body reserves its buffer's capacity before the buffer grows and gives it back when it is
//! dropped; callers that have not yet proved who they are share at most half of the budget, so
//! that a flood of anonymous uploads never starves authenticated ones.

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct BodyBudget {
    total: usize,
    unverified_cap: usize,
    held: AtomicUsize,
    held_unverified: AtomicUsize,
}

impl BodyBudget {
    pub fn new(total: usize) -> Self {
        BodyBudget {
            total,
            unverified_cap: total / 2,
            held: AtomicUsize::new(0),
            held_unverified: AtomicUsize::new(0),
        }
    }

    /// A reservation of nothing yet, for a caller that is `verified` (HTTP Basic checked) or not.
    pub fn reservation(&self, verified: bool) -> Reservation<'_> {
        Reservation {
            budget: self,
            held: 0,
            verified,
        }
    }

    /// Bytes reserved by bodies in flight (for tests and metrics).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn take(counter: &AtomicUsize, bytes: usize, cap: usize) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|after| *after <= cap)
            })
            .is_ok()
    }
}

/// Bytes one body holds of the budget; given back on drop.
pub struct Reservation<'a> {
    budget: &'a BodyBudget,
    held: usize,
    verified: bool,
}

impl Reservation<'_> {
    /// Makes sure `bytes` in all are reserved; false (and nothing more taken) when the budget,
    /// or the unverified callers' half of it, cannot give them.
    pub fn reserve_up_to(&mut self, bytes: usize) -> bool {
        let Some(extra) = bytes.checked_sub(self.held).filter(|e| *e > 0) else {
            return true;
        };
        let budget = self.budget;
        if !self.verified
            && !BodyBudget::take(&budget.held_unverified, extra, budget.unverified_cap)
        {
            return false;
        }
        if !BodyBudget::take(&budget.held, extra, budget.total) {
            if !self.verified {
                budget.held_unverified.fetch_sub(extra, Ordering::AcqRel);
            }
            return false;
        }
        self.held = bytes;
        true
    }

    /// The caller proved who it is: what it holds no longer counts against the unverified half.
    pub fn verified(&mut self) {
        if !self.verified {
            self.budget
                .held_unverified
                .fetch_sub(self.held, Ordering::AcqRel);
            self.verified = true;
        }
    }
}

/// A body that held this much is followed by giving free memory back (see [`crate::memory`]).
const GIVE_BACK_AFTER: usize = 512 * 1024;

impl Drop for Reservation<'_> {
    /// Runs after the body it covered was dropped (it is declared before the body, or after it
    /// in a struct), on the same thread.
    fn drop(&mut self) {
        if self.held >= GIVE_BACK_AFTER {
            crate::memory::give_back();
        }
        self.budget.held.fetch_sub(self.held, Ordering::AcqRel);
        if !self.verified {
            self.budget
                .held_unverified
                .fetch_sub(self.held, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unverified_callers_share_half_and_everything_comes_back() {
        let budget = BodyBudget::new(100);
        let mut a = budget.reservation(false);
        assert!(a.reserve_up_to(40));
        let mut b = budget.reservation(false);
        assert!(!b.reserve_up_to(20), "past the unverified half");
        assert!(b.reserve_up_to(10));
        let mut c = budget.reservation(true);
        assert!(c.reserve_up_to(40));
        assert!(!c.reserve_up_to(51), "past the whole budget");
        a.verified();
        assert!(b.reserve_up_to(20));
        drop((a, b, c));
        assert_eq!(budget.held(), 0);
        let mut d = budget.reservation(false);
        assert!(d.reserve_up_to(50));
    }
}
