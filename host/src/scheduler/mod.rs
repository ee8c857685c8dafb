//! The scheduler: computes fire times and inserts runs. It never runs plugins; the
//! executor claims what it inserts.

pub mod fire_times;
pub mod tick;
