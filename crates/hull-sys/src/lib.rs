//! Thin wrappers over the Linux syscalls hull needs that `nix` does not cover.
//!
//! Each function does one syscall (or one small fixed sequence) and returns
//! `std::io::Error` so callers can attach their own context.

pub mod clone;
pub mod fd_passing;
pub mod proc_stat;

pub use clone::{clone3_fork, CloneArgs};
pub use fd_passing::{recv_fd, recv_fds, recv_queued, send_fd, send_fds, MAX_FDS};
pub use proc_stat::{liveness, process_start_time, ProcessLiveness};
