//! The token for the GAP thread: [`Gap`].
//!
//! Like pyo3's `Python<'py>`, it is a zero-sized `Copy` value whose
//! existence proves something (here: GAP is initialised, and this is the
//! thread that initialised it), passed by value to everything that enters
//! GAP. Handles ([`GapObj`](crate::GapObj)) carry a copy, so a handle can
//! always give back its token without a borrow or an allocation.

use std::fmt;
use std::marker::PhantomData;

/// Proof that GAP is initialised and that this thread may use it.
///
/// Zero-sized and `Copy`: pass it by value. It is `!Send` and `!Sync`
/// (through a raw-pointer marker), so it never leaves the GAP thread.
///
/// Why [`Gap::init`] hands out `Gap<'static>`: pyo3's lifetime stands for
/// "while the GIL is held", because Python can release the GIL and be
/// finalised. GAP is neither: once initialised it stays so until the
/// process ends, and it is only ever usable from one thread, which the
/// `!Send` marker already pins the token to. The one scope that bounds a
/// token's use is therefore the whole life of the thread, which `'static`
/// plus `!Send` expresses exactly. The lifetime parameter stays so that
/// functions can name it (`fn f<'gap>(gap: Gap<'gap>) -> GapObj<'gap>`)
/// and handles are tied to the token they came from.
///
/// ```
/// fn copy<T: Copy>(_: T) {}
/// let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
/// copy(gap); // passed by value, still usable:
/// assert_eq!(std::mem::size_of_val(&gap), 0);
/// let x = gap.eval_value("2^10")?;
/// let same = x.gap(); // a handle gives back its token, no borrow
/// assert_eq!(same.eval_as::<i64>("1+1")?, 2);
/// # Ok::<(), gaprun::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Gap<'gap> {
    _brand: PhantomData<&'gap ()>,
    _not_send: PhantomData<*mut ()>,
}

impl Gap<'_> {
    /// The token, for code that has just proved (or already holds proof)
    /// that GAP is initialised on this thread: [`Gap::init`] after its
    /// checks, and handles that carry one.
    pub(crate) fn assume_initialised_here() -> Self {
        Gap {
            _brand: PhantomData,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for Gap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gap")
    }
}
