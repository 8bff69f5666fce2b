//! The lowest layer: raw GAP object pointers and the small helpers every
//! module uses to talk to the C shim (statuses → `Result`, GAP's error text,
//! string bytes, view strings). It knows nothing of handles or the token, so
//! every other module can build on it without a cycle.

use crate::error::{Error, GapError, Result};
use crate::sys;
use std::ffi::CString;

/// GAP's raw object pointer (a handle to a master pointer: stable even
/// though GASMAN moves the object's body).
pub(crate) type RawObj = sys::gaprun_obj;

/// Take the text GAP printed on its error stream.
pub(crate) fn take_error() -> GapError {
    let mut len = 0usize;
    // SAFETY: the shim returns a pointer into a live GAP string of `len`
    // bytes; it is copied before any further call into GAP.
    let text = unsafe {
        let ptr = sys::gaprun_error_text(&mut len);
        let bytes = std::slice::from_raw_parts(ptr as *const u8, len);
        String::from_utf8_lossy(bytes).into_owned()
    };
    // SAFETY: plain shim call, no GAP error possible.
    unsafe { sys::gaprun_error_clear() };
    GapError::from_gap_text(&text)
}

/// Turn a shim status into a `Result`.
pub(crate) fn check(status: i32) -> Result<()> {
    match status as u32 {
        sys::GAPRUN_OK => Ok(()),
        sys::GAPRUN_ERROR => Err(Error::Gap(take_error())),
        sys::GAPRUN_INTERRUPTED | sys::GAPRUN_MEMORY_LIMIT | sys::GAPRUN_QUIT => {
            // GAP's message ("user interrupt", ...) is not needed: the
            // status says what happened.
            // SAFETY: plain shim call, no GAP error possible.
            unsafe { sys::gaprun_error_clear() };
            Err(match status as u32 {
                sys::GAPRUN_INTERRUPTED => Error::Interrupted,
                sys::GAPRUN_MEMORY_LIMIT => Error::MemoryLimit,
                _ => Error::Quit {
                    // SAFETY: reads a plain int the shim keeps.
                    code: unsafe { sys::gaprun_quit_code() },
                },
            })
        }
        _ => Err(Error::InvalidArgument(
            "GAP is not initialised or the argument was not acceptable".into(),
        )),
    }
}

pub(crate) fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::InvalidArgument(format!("{s:?} contains a NUL byte")))
}

/// Bytes of a GAP string object (copied).
pub(crate) fn string_bytes(raw: RawObj) -> Option<Vec<u8>> {
    let mut ptr: *const std::os::raw::c_char = std::ptr::null();
    let mut len = 0usize;
    // SAFETY: `raw` is a live object; the shim checks it is a string and
    // returns its byte range, copied at once.
    let status = unsafe { sys::gaprun_string_bytes(raw, &mut ptr, &mut len) };
    if status != sys::GAPRUN_OK as i32 || ptr.is_null() {
        return None;
    }
    // SAFETY: on GAPRUN_OK the shim returned a non-null pointer to `len`
    // bytes inside a live GAP string; they are copied before any call into
    // GAP could move or free the object.
    Some(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }.to_vec())
}

/// GAP's view (or print) string of an object, without GAP's line breaks.
pub(crate) fn view_string_of(raw: RawObj, print: bool) -> Result<String> {
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: `raw` is rooted by its handle; the result is used before the
    // next allocation.
    check(unsafe { sys::gaprun_view_string_flat(raw, print as i32, &mut out) })?;
    let bytes = string_bytes(out).unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Element `pos` (1-based) of a list the caller keeps rooted (null when
/// unbound).
pub(crate) fn list_elm(list: RawObj, pos: usize) -> Result<RawObj> {
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: `list` is rooted by the caller.
    check(unsafe { sys::gaprun_list_elm(list, pos, &mut out) })?;
    Ok(out)
}
