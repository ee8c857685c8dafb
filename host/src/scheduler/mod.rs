//! The scheduler: computes fire times and inserts runs. It never runs plugins; the
//! executor claims what it inserts.

pub mod auto_pause;
pub mod fire_times;
pub mod gate;
pub mod tick;
pub mod windows;
