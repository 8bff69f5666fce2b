//! Calling GAP functions with Rust arguments, and GAP's operations
//! (`=`, `<`, `in`, `+`, `-`, `*`, `/`, `^`, `mod`) on handles.
//!
//! Every operation takes any [`IntoGap`] operand, so `x.add(1)?` and
//! `x.add(&y)?` both work, and returns a `Result`: GAP raises errors for
//! operations it has no method for, and those become [`Error::Gap`].
//!
//! ```
//! use gaprun::{Gap, GapOptions};
//! let gap = Gap::init(GapOptions { autoload: false, ..Default::default() })?;
//! let g = gap.eval_value("SymmetricGroup(5)")?;
//! let order: i64 = gap.call_fn("Size", (&g,))?;
//! assert_eq!(order, 120);
//! let x = gap.value(&7)?;
//! assert_eq!(x.pow(2)?.modulo(10)?.extract::<i64>()?, 9);
//! assert!(x.less_than(8)?);
//! let err = x.div(0).unwrap_err();          // GAP's error, as a value
//! assert!(err.to_string().contains("must not be zero"));
//! assert_eq!(x.add(1)?.extract::<i64>()?, 8); // GAP is still fine
//! # Ok::<(), gaprun::Error>(())
//! ```

use crate::convert::{FromGap, IntoGap};
use crate::error::{Error, Result};
use crate::obj::{call_rooted, GapObj};
use crate::raw::{check, RawObj};
use crate::sys;
use crate::token::Gap;

/// Arguments of a GAP call: tuples of [`IntoGap`] values (up to 8),
/// slices and vectors of handles.
pub trait IntoGapArgs {
    /// Convert every argument (each rooted while the call runs).
    fn into_gap_args<'gap>(self, gap: Gap<'gap>) -> Result<Vec<GapObj<'gap>>>;
}

macro_rules! tuple_args {
    ($($name:ident),*) => {
        impl<$($name: IntoGap),*> IntoGapArgs for ($($name,)*) {
            #[allow(non_snake_case, unused_variables)]
            fn into_gap_args<'gap>(self, gap: Gap<'gap>) -> Result<Vec<GapObj<'gap>>> {
                let ($($name,)*) = self;
                Ok(vec![$($name.to_gap(gap)?),*])
            }
        }
    };
}

tuple_args!();
tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);
tuple_args!(A, B, C, D, E, F, G);
tuple_args!(A, B, C, D, E, F, G, H);

impl IntoGapArgs for &[GapObj<'_>] {
    fn into_gap_args<'gap>(self, gap: Gap<'gap>) -> Result<Vec<GapObj<'gap>>> {
        self.iter().map(|a| a.to_gap(gap)).collect()
    }
}

impl IntoGapArgs for Vec<GapObj<'_>> {
    fn into_gap_args<'gap>(self, gap: Gap<'gap>) -> Result<Vec<GapObj<'gap>>> {
        self.as_slice().into_gap_args(gap)
    }
}

impl<'gap> Gap<'gap> {
    /// A global GAP function by name (an error when it is unbound or not a
    /// function). Keep the handle to avoid looking it up on every call.
    pub fn function(self, name: &str) -> Result<GapObj<'gap>> {
        let f = self
            .global(name)?
            .ok_or_else(|| Error::InvalidArgument(format!("`{name}` is not bound in GAP")))?;
        if f.kind()? != crate::convert::Kind::Function {
            return Err(Error::InvalidArgument(format!(
                "`{name}` is not a GAP function"
            )));
        }
        Ok(f)
    }

    /// Call the global GAP function `name` with converted arguments and
    /// convert its result: `let n: i64 = gap.call_fn("Factorial", (10,))?`.
    pub fn call_fn<R: FromGap<'gap>>(self, name: &str, args: impl IntoGapArgs) -> Result<R> {
        self.function(name)?.call(args)
    }
}

impl<'gap> GapObj<'gap> {
    /// Call this GAP function with converted arguments; the result is
    /// converted to `R` (`GapObj` keeps it as a handle, `()` accepts a
    /// call that returns nothing).
    pub fn call<R: FromGap<'gap>>(&self, args: impl IntoGapArgs) -> Result<R> {
        let gap = self.gap();
        let args = args.into_gap_args(gap)?;
        // the arguments stay rooted by `args` for the whole call
        let raw: Vec<RawObj> = args.iter().map(|a| a.raw()).collect();
        match call_rooted(gap, self, &raw)? {
            Some(v) => R::from_gap(&v),
            None => R::from_no_value(),
        }
    }

    fn binop(&self, op: u32, other: impl IntoGap) -> Result<GapObj<'gap>> {
        let gap = self.gap();
        let other = other.to_gap(gap)?;
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: both operands are rooted; the shim catches GAP errors.
        check(unsafe { sys::gaprun_binop(op as i32, self.raw(), other.raw(), &mut out) })?;
        GapObj::from_raw(gap, out)
    }

    fn compare(&self, op: i32, other: impl IntoGap) -> Result<bool> {
        let other = other.to_gap(self.gap())?;
        let mut out = 0;
        // SAFETY: both operands are rooted; the shim catches GAP errors.
        check(unsafe { sys::gaprun_compare(op, self.raw(), other.raw(), &mut out) })?;
        Ok(out != 0)
    }

    /// `self + other`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_SUM, other)
    }
    /// `self - other`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_DIFF, other)
    }
    /// `self * other`.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_PROD, other)
    }
    /// `self / other`.
    #[allow(clippy::should_implement_trait)]
    pub fn div(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_QUO, other)
    }
    /// `self ^ other` (powers, conjugation, images under permutations).
    pub fn pow(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_POW, other)
    }
    /// `self mod other`.
    pub fn modulo(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_MOD, other)
    }
    /// `Comm(self, other)`.
    pub fn comm(&self, other: impl IntoGap) -> Result<GapObj<'gap>> {
        self.binop(sys::GAPRUN_OP_COMM, other)
    }
    /// `self = other`.
    pub fn equals(&self, other: impl IntoGap) -> Result<bool> {
        self.compare(0, other)
    }
    /// `self < other`.
    pub fn less_than(&self, other: impl IntoGap) -> Result<bool> {
        self.compare(1, other)
    }
    /// `self in collection`.
    pub fn is_in(&self, collection: impl IntoGap) -> Result<bool> {
        self.compare(2, collection)
    }
    /// `element in self`.
    pub fn contains(&self, element: impl IntoGap) -> Result<bool> {
        let element = element.to_gap(self.gap())?;
        element.is_in(self)
    }
}

macro_rules! std_op {
    ($trait:ident, $method:ident, $op:expr) => {
        /// GAP's operation; the `Result` carries GAP's error.
        impl<'gap, T: IntoGap> std::ops::$trait<T> for &GapObj<'gap> {
            type Output = Result<GapObj<'gap>>;
            fn $method(self, rhs: T) -> Self::Output {
                self.binop($op, rhs)
            }
        }
    };
}

std_op!(Add, add, sys::GAPRUN_OP_SUM);
std_op!(Sub, sub, sys::GAPRUN_OP_DIFF);
std_op!(Mul, mul, sys::GAPRUN_OP_PROD);
std_op!(Div, div, sys::GAPRUN_OP_QUO);
