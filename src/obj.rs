//! Rooted handles to GAP objects.
//!
//! GAP's collector (GASMAN) frees every object it cannot reach. Objects held
//! in Rust memory are reachable only through the *root table* below: a slot
//! vector with a free list, marked by the callback gaprun gives to
//! `GAP_Initialize`. A [`GapObj`] owns one slot; cloning takes another, and
//! dropping returns it. The lifetime `'gap` ties a handle to the [`Gap`]
//! runtime, so a handle cannot outlive GAP or move to another thread.

use crate::error::{Error, Result};
use crate::runtime::Gap;
use crate::sys;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

/// GAP's raw object pointer (a handle to a master pointer: stable even
/// though GASMAN moves the object's body).
pub(crate) type RawObj = sys::gaprun_obj;

#[derive(Default)]
struct RootTable {
    slots: Vec<RawObj>,
    free: Vec<u32>,
}

thread_local! {
    // GAP is used from one thread only (the one that initialised it), and
    // GASMAN calls the mark callback on that thread: a thread-local table
    // needs no lock.
    static ROOTS: RefCell<RootTable> = RefCell::new(RootTable::default());
}

fn root(obj: RawObj) -> u32 {
    ROOTS.with(|r| {
        let mut r = r.borrow_mut();
        match r.free.pop() {
            Some(slot) => {
                r.slots[slot as usize] = obj;
                slot
            }
            None => {
                r.slots.push(obj);
                (r.slots.len() - 1) as u32
            }
        }
    })
}

fn unroot(slot: u32) {
    // try_with: a handle dropped during thread teardown finds no table.
    let _ = ROOTS.try_with(|r| {
        let mut r = r.borrow_mut();
        r.slots[slot as usize] = std::ptr::null_mut();
        r.free.push(slot);
    });
}

/// Number of objects currently rooted by Rust handles.
pub fn rooted_count() -> usize {
    ROOTS.with(|r| {
        let r = r.borrow();
        r.slots.len() - r.free.len()
    })
}

/// The mark callback given to `GAP_Initialize`: marks every rooted object.
pub(crate) extern "C" fn mark_roots() {
    // Must not panic (it runs inside GAP's collector, a C frame). If the
    // table cannot be read (borrowed mutably, or gone with its thread),
    // marking nothing would let GAP free objects Rust still holds: memory
    // corruption later. Abort instead.
    let marked = ROOTS.try_with(|r| match r.try_borrow() {
        Ok(r) => {
            for &obj in &r.slots {
                if !obj.is_null() {
                    // SAFETY: called from GASMAN's marking phase with a live
                    // object pointer that this table keeps alive.
                    unsafe { sys::gaprun_mark(obj) };
                }
            }
            true
        }
        Err(_) => false,
    });
    if marked != Ok(true) {
        let msg = b"gaprun: GAP collected garbage while the root table was unreadable; aborting\n";
        // SAFETY: write(2) on stderr with a valid buffer, then abort.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::abort();
        }
    }
}

/// A GAP object held by Rust, rooted for the collector while it lives.
///
/// `!Send` and `!Sync` (GAP is single-threaded), borrowed from [`Gap`].
pub struct GapObj<'gap> {
    slot: u32,
    raw: RawObj,
    gap: PhantomData<&'gap Gap>,
}

impl<'gap> GapObj<'gap> {
    /// Root a raw object. `raw` must be a live GAP object (or a small
    /// integer / FFE immediate) obtained from GAP in this same call, before
    /// any further allocation.
    pub(crate) fn from_raw(_gap: &'gap Gap, raw: RawObj) -> Result<GapObj<'gap>> {
        if raw.is_null() {
            return Err(Error::Conversion("GAP returned no value".into()));
        }
        Ok(GapObj {
            slot: root(raw),
            raw,
            gap: PhantomData,
        })
    }

    /// The runtime this handle belongs to (it exists: the handle proves it).
    pub fn gap(&self) -> &'gap Gap {
        // A zero-sized value: leaking its box allocates nothing, and a
        // `&'gap Gap` is sound because GAP is never finalised and the
        // handle (`!Send`) keeps us on GAP's thread.
        Box::leak(Box::new(Gap::token()))
    }

    /// The raw pointer, for passing into the shim. It stays valid while
    /// `self` lives.
    pub(crate) fn raw(&self) -> RawObj {
        self.raw
    }
}

impl Clone for GapObj<'_> {
    fn clone(&self) -> Self {
        GapObj {
            slot: root(self.raw),
            raw: self.raw,
            gap: PhantomData,
        }
    }
}

impl Drop for GapObj<'_> {
    fn drop(&mut self) {
        unroot(self.slot);
    }
}

impl fmt::Debug for GapObj<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::runtime::view_string_of(self.raw, false) {
            Ok(s) => write!(f, "GapObj({s})"),
            Err(_) => write!(f, "GapObj(<unviewable>)"),
        }
    }
}

impl fmt::Display for GapObj<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::runtime::view_string_of(self.raw, false) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("<unviewable GAP object>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Marking with the root table borrowed aborts the process instead of
    /// silently marking nothing. Runs itself in a child process (the abort
    /// is the expected outcome), selected by an environment variable.
    #[test]
    fn mark_with_borrowed_root_table_aborts() {
        if std::env::var_os("GAPRUN_TEST_MARK_BORROWED").is_some() {
            ROOTS.with(|r| {
                let _held = r.borrow_mut();
                mark_roots();
            });
            std::process::exit(0); // not reached when mark_roots aborts
        }
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([
                "--exact",
                "obj::tests::mark_with_borrowed_root_table_aborts",
                "--nocapture",
            ])
            .env("GAPRUN_TEST_MARK_BORROWED", "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("root table was unreadable"));
    }
}
