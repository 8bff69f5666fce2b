//! Sessions answering straight to the server's stdout.

use super::*;

/// An answer line at most this long goes from a session straight to the
/// server's stdout in one write(2), which POSIX makes atomic on a pipe (a
/// session killed meanwhile writes all of it or nothing). Longer answers,
/// and fork answers, go through the server.
pub(super) const ATOMIC_LINE: usize = libc::PIPE_BUF;

/// Sessions numbered below this have an answer counter (and so answer
/// directly); later ones have their answers passed on by the server.
pub(super) const SLOTS: usize = 1 << 16;

/// What lets sessions write their answers to the server's stdout.
///
/// Writers (the server and every session) hold `flock` on `lock_path`
/// around each line: shared for a line written in one atomic write,
/// exclusive for a longer one, so no line lands inside another. Each session
/// counts the answers it has written in its slot of `answered` (shared
/// memory), which tells the server which requests are still owed (for
/// `stats`, `close` and a session's death) without a message per answer.
pub(super) struct DirectOut {
    /// A dup of the server's stdout (a pipe), inherited by every session.
    pub(super) fd: i32,
    /// `SLOTS` counters in a `MAP_SHARED` mapping, one per session number.
    pub(super) answered: *const AtomicU64,
    pub(super) lock_path: PathBuf,
}

// SAFETY: `answered` points at a mapping that is never unmapped, accessed
// only through atomics.
unsafe impl Send for DirectOut {}
// SAFETY: shared use is sound for the same reason: the mapping lives for
// the whole process and every access to it is atomic.
unsafe impl Sync for DirectOut {}

pub(super) static DIRECT: OnceLock<DirectOut> = OnceLock::new();

/// The server's pid (set before the first fork).
pub(super) static SERVER_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

impl DirectOut {
    /// Set up direct answers if stdout is a pipe (and `GAPRUN_SERVE_RELAY`
    /// is unset: then every answer goes through the server, as on files).
    pub(super) fn setup(dir: &Path) -> Option<DirectOut> {
        if std::env::var_os("GAPRUN_SERVE_RELAY").is_some() {
            return None;
        }
        // SAFETY: `stat` is plain old data, for which all-zero bytes are valid.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes only into `st`, a valid, exclusively borrowed struct.
        if unsafe { libc::fstat(1, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return None;
        }
        let lock_path = dir.join("out.lock");
        File::create(&lock_path).ok()?;
        let len = SLOTS * std::mem::size_of::<AtomicU64>();
        // SAFETY: a fresh anonymous shared mapping (zeroed by the kernel).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: dup of fd 1 above 2, close-on-exec.
        let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
        if fd < 0 {
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(p, len) };
            return None;
        }
        Some(DirectOut {
            fd,
            answered: p as *const AtomicU64,
            lock_path,
        })
    }

    pub(super) fn slot(&'static self, sid: u64) -> Option<&'static AtomicU64> {
        // SAFETY: in bounds; the mapping lives as long as the process.
        (sid < SLOTS as u64).then(|| unsafe { &*self.answered.add(sid as usize) })
    }
}

/// The answer counter of session `sid` when it answers directly.
pub(super) fn direct_slot(sid: u64) -> Option<&'static AtomicU64> {
    DIRECT.get().and_then(|d| d.slot(sid))
}

/// flock(2), retried when a signal interrupts it.
pub(super) fn flock(f: &File, op: i32) {
    // SAFETY: `f` is an open file, so its fd stays valid during the call;
    // flock touches no memory of ours.
    while unsafe { libc::flock(f.as_raw_fd(), op) } != 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
}

/// Write all of `buf` to `fd` (retrying on EINTR); errors are dropped (a
/// closed stdout means the client is gone).
pub(super) fn write_fd(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a live slice, and write reads at most `buf.len()`
        // bytes from it; a bad `fd` only makes write fail with EBADF.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const _, buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}
