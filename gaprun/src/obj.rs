//! Rooted handles to GAP objects, and the calls on the token that make
//! them (globals, strings, function calls).
//!
//! GAP's collector (GASMAN) frees every object it cannot reach. Objects held
//! in Rust memory are reachable only through the *root table* below: a slot
//! vector with a free list, marked by the callback gaprun gives to
//! `GAP_Initialize`. A [`GapObj`] owns a share of one slot: clones share
//! their original's slot (a count per slot), and the slot is freed when the
//! last of them drops. The lifetime `'gap` ties a handle to its [`Gap`]
//! token, so a handle cannot move to another thread.

use crate::error::{Error, Result};
use crate::raw::{check, cstring, view_string_of, RawObj};
use crate::sys;
use crate::token::Gap;
use std::cell::RefCell;
use std::fmt;

/// One root: the object and how many handles share it (0 = free).
#[derive(Clone, Copy)]
struct Slot {
    obj: RawObj,
    handles: usize,
}

#[derive(Default)]
struct RootTable {
    slots: Vec<Slot>,
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
        let slot = Slot { obj, handles: 1 };
        match r.free.pop() {
            Some(i) => {
                r.slots[i as usize] = slot;
                i
            }
            None => {
                r.slots.push(slot);
                (r.slots.len() - 1) as u32
            }
        }
    })
}

/// One more handle shares `slot`.
fn share(slot: u32) {
    ROOTS.with(|r| r.borrow_mut().slots[slot as usize].handles += 1);
}

/// One handle of `slot` is gone; the last one frees the slot.
fn unroot(slot: u32) {
    // try_with: a handle dropped during thread teardown finds no table.
    let _ = ROOTS.try_with(|r| {
        let mut r = r.borrow_mut();
        let s = &mut r.slots[slot as usize];
        s.handles -= 1;
        if s.handles == 0 {
            s.obj = std::ptr::null_mut();
            r.free.push(slot);
        }
    });
}

/// Number of root slots in use: one per object Rust handles keep alive
/// (clones of a handle share their original's slot).
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
            for slot in &r.slots {
                if !slot.obj.is_null() {
                    // SAFETY: called from GASMAN's marking phase with a live
                    // object pointer that this table keeps alive.
                    unsafe { sys::gaprun_mark(slot.obj) };
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
/// `!Send` and `!Sync` (GAP is single-threaded); it carries its [`Gap`]
/// token. Cloning is cheap: clones share one root.
pub struct GapObj<'gap> {
    slot: u32,
    raw: RawObj,
    gap: Gap<'gap>,
}

impl<'gap> GapObj<'gap> {
    /// Root a raw object. `raw` must be a live GAP object (or a small
    /// integer / FFE immediate) obtained from GAP in this same call, before
    /// any further allocation.
    pub(crate) fn from_raw(gap: Gap<'gap>, raw: RawObj) -> Result<GapObj<'gap>> {
        if raw.is_null() {
            return Err(Error::conversion(
                "no value",
                "GapObj",
                "GAP returned no value",
            ));
        }
        Ok(GapObj {
            slot: root(raw),
            raw,
            gap,
        })
    }

    /// The token of the GAP this handle belongs to.
    pub fn gap(&self) -> Gap<'gap> {
        self.gap
    }

    /// The raw pointer, for passing into the shim. It stays valid while
    /// `self` lives.
    pub(crate) fn raw(&self) -> RawObj {
        self.raw
    }

    /// Another handle to the same object under `gap`'s lifetime (sharing
    /// this handle's root). There is one GAP per process, so every token
    /// stands for the same one.
    pub(crate) fn with_token<'b>(&self, gap: Gap<'b>) -> GapObj<'b> {
        share(self.slot);
        GapObj {
            slot: self.slot,
            raw: self.raw,
            gap,
        }
    }
}

impl Clone for GapObj<'_> {
    fn clone(&self) -> Self {
        self.with_token(self.gap)
    }
}

impl Drop for GapObj<'_> {
    fn drop(&mut self) {
        unroot(self.slot);
    }
}

impl fmt::Debug for GapObj<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match view_string_of(self.raw, false) {
            Ok(s) => write!(f, "GapObj({s})"),
            Err(_) => write!(f, "GapObj(<unviewable>)"),
        }
    }
}

impl fmt::Display for GapObj<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match view_string_of(self.raw, false) {
            Ok(s) => f.write_str(&s),
            Err(_) => f.write_str("<unviewable GAP object>"),
        }
    }
}

/// Call `func` with arguments whose handles the caller keeps alive (so
/// they stay rooted for the whole call); `None` when it returned nothing.
pub(crate) fn call_rooted<'gap>(
    gap: Gap<'gap>,
    func: &GapObj<'_>,
    rooted_args: &[RawObj],
) -> Result<Option<GapObj<'gap>>> {
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: `func` and every argument are rooted by handles the caller
    // holds; the shim catches GAP errors (also "not a function").
    check(unsafe {
        sys::gaprun_call(
            func.raw(),
            rooted_args.len(),
            rooted_args.as_ptr(),
            &mut out,
        )
    })?;
    if out.is_null() {
        Ok(None)
    } else {
        GapObj::from_raw(gap, out).map(Some)
    }
}

/// The calls that make handles: globals, strings, function calls. The
/// typed layers ([`crate::convert`], [`crate::ops`]) build on these.
impl<'gap> Gap<'gap> {
    /// Value of a global variable (`None` when unbound).
    pub fn global(self, name: &str) -> Result<Option<GapObj<'gap>>> {
        let cname = cstring(name)?;
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: valid C string; the shim catches errors.
        check(unsafe { sys::gaprun_global_get(cname.as_ptr(), &mut out) })?;
        if out.is_null() {
            Ok(None)
        } else {
            GapObj::from_raw(self, out).map(Some)
        }
    }

    /// Assign a global variable.
    pub fn set_global(self, name: &str, value: &GapObj<'_>) -> Result<()> {
        let cname = cstring(name)?;
        // SAFETY: `value` is rooted; the shim catches errors (read-only).
        check(unsafe { sys::gaprun_global_set(cname.as_ptr(), value.raw()) })
    }

    /// Call a GAP function; `None` when it returned nothing.
    pub fn call(self, func: &GapObj<'_>, args: &[&GapObj<'_>]) -> Result<Option<GapObj<'gap>>> {
        let raw_args: Vec<RawObj> = args.iter().map(|a| a.raw()).collect();
        call_rooted(self, func, &raw_args)
    }

    /// Call the global function `name`, which must return a value (for
    /// the library's own calls: the name is a GAP library function).
    pub(crate) fn call_global(self, name: &str, args: &[&GapObj<'_>]) -> Result<GapObj<'gap>> {
        let func = self
            .global(name)?
            .ok_or_else(|| Error::InvalidArgument(format!("`{name}` is not bound in GAP")))?;
        self.call(&func, args)?.ok_or_else(|| {
            Error::conversion("no value", "GapObj", format!("`{name}` returned no value"))
        })
    }

    /// A GAP string with these bytes.
    pub fn string(self, s: &str) -> Result<GapObj<'gap>> {
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: `s` is a live `&str`, so (ptr, len) is a valid byte range;
        // GAP copies it into a new string object before returning.
        check(unsafe { sys::gaprun_make_string(s.as_ptr() as *const _, s.len(), &mut out) })?;
        GapObj::from_raw(self, out)
    }

    /// GAP's view string (`ViewObj`) of an object.
    pub fn view(self, obj: &GapObj<'_>) -> Result<String> {
        view_string_of(obj.raw(), false)
    }

    /// GAP's print string (`PrintObj`) of an object.
    pub fn print_string(self, obj: &GapObj<'_>) -> Result<String> {
        view_string_of(obj.raw(), true)
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
