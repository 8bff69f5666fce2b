//! Counting this process's threads: fork only copies the calling thread,
//! so the pool forks only while GAP's thread is the only one.

use crate::error::{Error, Result};

/// Threads of this process right now (entries of `/proc/self/task`).
pub fn thread_count() -> Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

pub(crate) fn ensure_single_thread() -> Result<()> {
    match thread_count()? {
        1 => Ok(()),
        n => Err(Error::MultipleThreads(n)),
    }
}
