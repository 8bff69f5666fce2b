//! Conversions between Rust values and GAP objects, both ways.
//!
//! Two traits, in the manner of rusqlite's `FromSql`/`ToSql`, so user types
//! can plug in:
//! - [`IntoGap`]: a Rust value → a new rooted [`GapObj`];
//! - [`FromGap`]: a [`GapObj`] → a Rust value, checked: a wrong kind, an
//!   overflow or invalid UTF-8 is an [`Error::Conversion`], never a panic.
//!
//! | Rust | GAP |
//! |---|---|
//! | `bool` | `true` / `false` |
//! | `Option<T>` | `fail` ↔ `None` |
//! | `i8`…`i128`, `u8`…`u128`, `isize`, `usize` | integers (exact, checked range) |
//! | [`BigInt`] | integers of any size (exact, through GMP limbs) |
//! | `BigRational`, `Ratio<i64>` | rationals (feature `bigint`) |
//! | `f64`, `f32` | machine floats (`IsIEEE754FloatRep`) |
//! | `String`, `&str` | strings (UTF-8 checked) |
//! | [`ByteString`] | strings as raw bytes |
//! | `Vec<T>`, `&[T]`, `[T; N]` | lists (ranges and plain lists read alike) |
//! | `Range<i64>`, `RangeInclusive<i64>` | ranges `[a..b]` |
//! | `BTreeMap<String, T>`, `HashMap<String, T>` | plain records |
//! | [`Permutation`] | permutations (image lists, 1-based as in GAP) |
//! | [`ViewString`] | anything, as GAP views it (finite field elements, cyclotomics …) |
//! | `serde_json::Value` | JSON-shaped values (`null` ↔ `fail`; into GAP: integers exact at any size, `{"base64": "…"}` → the string of those bytes) |
//! | [`GapObj`] | itself |
//!
//! Serde structs go through JSON (feature `serde`): `Gap::serde_value` and
//! `GapObj::deserialize`.
//!
//! ```
//! use gaprun::{Gap, GapOptions};
//! use num_bigint::BigInt;
//! let gap = Gap::init(GapOptions { autoload: false, ..Default::default() })?;
//! let big: BigInt = gap.eval_as("2^200 - 1")?;
//! assert_eq!(big, (BigInt::from(1) << 200) - 1);
//! let back = gap.value(&big)?;
//! assert!(back.equals(gap.eval_value("2^200 - 1")?)?);
//! let v: Vec<i64> = gap.eval_as("[1..5]")?;
//! assert_eq!(v, [1, 2, 3, 4, 5]);
//! # Ok::<(), gaprun::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::json_text;
use crate::obj::GapObj;
use crate::raw::{check, string_bytes, RawObj};
use crate::sys;
use crate::token::Gap;
use num_bigint::{BigInt, BigUint, Sign};
#[cfg(feature = "bigint")]
use num_rational::{BigRational, Ratio};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// Strings longer than this are refused before GAP sees them: GAP stops the
/// whole process when it cannot extend its workspace, so a conversion must
/// not ask for an absurd allocation.
pub const MAX_STRING_BYTES: usize = 1 << 30;

/// Lists longer than this are refused for the same reason.
pub const MAX_LIST_LEN: usize = 1 << 28;

/// Nesting deeper than this is refused when exporting (GAP lists can
/// contain themselves; recursion must end with an error, not a crash).
pub const MAX_DEPTH: usize = 200;

/// What kind of value a GAP object is, as far as conversions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// An integer (small or large).
    Int,
    /// A rational that is not an integer.
    Rational,
    /// A machine float.
    Float,
    /// A string (a list of characters in string representation).
    String,
    /// `true` or `false`.
    Bool,
    /// GAP's `fail`.
    Fail,
    /// A single character.
    Char,
    /// Any list that is not a string (plain list, range, boolean list …).
    List,
    /// A plain record.
    Record,
    /// A permutation.
    Permutation,
    /// A finite field element in GAP's internal representation.
    FiniteFieldElement,
    /// A cyclotomic that is not rational.
    Cyclotomic,
    /// A function or operation.
    Function,
    /// Anything else (groups, characters, …): use its view string.
    Other,
}

impl Kind {
    fn from_code(code: i32) -> Kind {
        match code as u32 {
            sys::GAPRUN_KIND_INT => Kind::Int,
            sys::GAPRUN_KIND_RAT => Kind::Rational,
            sys::GAPRUN_KIND_FLOAT => Kind::Float,
            sys::GAPRUN_KIND_STRING => Kind::String,
            sys::GAPRUN_KIND_BOOL => Kind::Bool,
            sys::GAPRUN_KIND_FAIL => Kind::Fail,
            sys::GAPRUN_KIND_CHAR => Kind::Char,
            sys::GAPRUN_KIND_LIST => Kind::List,
            sys::GAPRUN_KIND_RECORD => Kind::Record,
            sys::GAPRUN_KIND_PERM => Kind::Permutation,
            sys::GAPRUN_KIND_FFE => Kind::FiniteFieldElement,
            sys::GAPRUN_KIND_CYC => Kind::Cyclotomic,
            sys::GAPRUN_KIND_FUNCTION => Kind::Function,
            _ => Kind::Other,
        }
    }
}

/// Convert a GAP object into a Rust value (checked).
///
/// `'gap` lets [`GapObj`] itself (and containers of it) be extracted.
pub trait FromGap<'gap>: Sized {
    /// Convert `obj`; an [`Error::Conversion`] when it has the wrong kind
    /// or does not fit.
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self>;

    /// The value for a GAP call that returned nothing (`()` and `Option`
    /// accept it; everything else is an error).
    fn from_no_value() -> Result<Self> {
        Err(Error::conversion(
            "no value",
            std::any::type_name::<Self>(),
            "the call returned no value",
        ))
    }

    /// Convert a whole list (element types with a faster bulk path
    /// override this).
    #[doc(hidden)]
    fn vec_from_gap(list: &GapObj<'gap>) -> Result<Vec<Self>> {
        default_vec_from_gap(list)
    }
}

/// Convert a Rust value into a new GAP object.
///
/// Takes `&self` (like rusqlite's `ToSql`), so values can be converted
/// without giving them up; references to convertible values convert too.
pub trait IntoGap {
    /// Build the GAP object.
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>>;

    /// Build a GAP list of these values (element types with a faster bulk
    /// path override this).
    #[doc(hidden)]
    fn slice_to_gap<'gap>(items: &[Self], gap: Gap<'gap>) -> Result<GapObj<'gap>>
    where
        Self: Sized,
    {
        let list = new_list(gap, items.len())?;
        for (i, item) in items.iter().enumerate() {
            let v = item.to_gap(gap)?;
            // SAFETY: both objects are rooted by their handles.
            check(unsafe { sys::gaprun_list_assign(list.raw(), i + 1, v.raw()) })?;
        }
        Ok(list)
    }
}

impl<T: IntoGap + ?Sized> IntoGap for &T {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        (**self).to_gap(gap)
    }
}

fn root<'gap>(gap: Gap<'gap>, raw: RawObj) -> Result<GapObj<'gap>> {
    GapObj::from_raw(gap, raw)
}

fn new_list(gap: Gap<'_>, capacity: usize) -> Result<GapObj<'_>> {
    if capacity > MAX_LIST_LEN {
        return Err(Error::InvalidArgument(format!(
            "a list of {capacity} elements is longer than gaprun converts ({MAX_LIST_LEN})"
        )));
    }
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: plain allocation inside the shim's jump point.
    check(unsafe { sys::gaprun_make_list(capacity, &mut out) })?;
    root(gap, out)
}

fn wrong_kind(obj: &GapObj<'_>, expected: &str) -> Error {
    let kind = obj
        .kind()
        .map(|k| format!("GAP {k:?}"))
        .unwrap_or_else(|_| "GAP object".into());
    let mut view = obj.to_string();
    if view.len() > 80 {
        let mut cut = 77;
        while !view.is_char_boundary(cut) {
            cut -= 1;
        }
        view.truncate(cut);
        view.push_str("...");
    }
    Error::conversion(kind, expected, format!("got `{view}`"))
}

impl<'gap> GapObj<'gap> {
    /// What kind of value this is.
    pub fn kind(&self) -> Result<Kind> {
        let mut code = 0;
        // SAFETY: the object is rooted; the shim catches errors.
        check(unsafe { sys::gaprun_kind(self.raw(), &mut code) })?;
        Ok(Kind::from_code(code))
    }

    /// Convert to a Rust value: `let n: i64 = obj.extract()?`.
    ///
    /// ```
    /// # let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
    /// let s = gap.eval_value("Concatenation(\"ab\", \"cd\")")?;
    /// assert_eq!(s.extract::<String>()?, "abcd");
    /// assert!(s.extract::<i64>().is_err()); // wrong kind: an error, not a panic
    /// # Ok::<(), gaprun::Error>(())
    /// ```
    pub fn extract<T: FromGap<'gap>>(&self) -> Result<T> {
        T::from_gap(self)
    }

    /// Whether this is GAP's `fail`.
    pub fn is_fail(&self) -> bool {
        // SAFETY: reading a constant set at start-up.
        self.raw() == unsafe { sys::gaprun_bool_obj(2) }
    }

    /// Length of a list (an error for anything else).
    pub fn len(&self) -> Result<usize> {
        let mut len = 0usize;
        // SAFETY: the object is rooted; the shim checks it is a list.
        check(unsafe { sys::gaprun_list_length(self.raw(), &mut len) })?;
        Ok(len)
    }

    /// Whether a list is empty (an error for anything else).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Element at 1-based position `pos` of a list (`None` when unbound or
    /// out of range, as `IsBound(l[pos])` would say).
    pub fn get(&self, pos: usize) -> Result<Option<GapObj<'gap>>> {
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: the object is rooted; the shim checks it is a list.
        check(unsafe { sys::gaprun_list_elm(self.raw(), pos, &mut out) })?;
        if out.is_null() {
            Ok(None)
        } else {
            root(self.gap(), out).map(Some)
        }
    }

    /// The bytes of a GAP string (no UTF-8 check).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if let Some(b) = string_bytes(self.raw()) {
            return Ok(b);
        }
        match self.kind()? {
            Kind::String => {
                // a list of characters not in string representation
                let copy = self.gap().call_global("CopyToStringRep", &[self])?;
                string_bytes(copy.raw()).ok_or_else(|| wrong_kind(self, "a string"))
            }
            Kind::List if self.is_empty()? => Ok(Vec::new()),
            _ => Err(wrong_kind(self, "a string")),
        }
    }

    /// Export to JSON in the [`JsonForm::Portable`] form: integers that
    /// fit 64 bits, floats, UTF-8 strings, booleans, `fail` (as `null`),
    /// lists and records. Anything else (big integers, rationals, groups …)
    /// has no portable JSON form and is an error.
    ///
    /// ```
    /// # let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
    /// let r = gap.eval_value("rec(a := [1, true, \"x\"], b := fail)")?;
    /// assert_eq!(r.to_json()?, serde_json::json!({"a": [1, true, "x"], "b": null}));
    /// # Ok::<(), gaprun::Error>(())
    /// ```
    pub fn to_json(&self) -> Result<serde_json::Value> {
        self.to_json_form(JsonForm::Portable)
    }

    /// Export to JSON in the [`JsonForm::Exact`] form: integers of any
    /// size, strings as their bytes, no floats; what `gaprun serve`
    /// answers with.
    ///
    /// ```
    /// # let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
    /// let v = gap.eval_value("[2^70, \"\\377\"]")?;
    /// assert_eq!(v.to_exact_json()?.to_string(), r#"[1180591620717411303424,{"base64":"/w=="}]"#);
    /// assert!(v.to_json().is_err()); // neither has a portable form
    /// # Ok::<(), gaprun::Error>(())
    /// ```
    pub fn to_exact_json(&self) -> Result<serde_json::Value> {
        self.to_json_form(JsonForm::Exact)
    }

    /// Export to JSON in the given form; an [`Error::Conversion`] when the
    /// object (or a part of it) has no JSON form there.
    pub fn to_json_form(&self, form: JsonForm) -> Result<serde_json::Value> {
        to_json_depth(self, form, 0)
    }

    /// Deserialize a serde type from this object (through its JSON form).
    #[cfg(feature = "serde")]
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.to_json()?).map_err(|e| {
            Error::conversion(
                "JSON form of a GAP object",
                std::any::type_name::<T>(),
                e.to_string(),
            )
        })
    }
}

/// Which JSON form [`GapObj::to_json_form`] makes. Both give `fail` as
/// `null`, booleans, strings, lists and records, and refuse everything
/// else (rationals, permutations, groups …); they differ where JSON and
/// GAP disagree:
///
/// | GAP | `Portable` | `Exact` |
/// |---|---|---|
/// | integer beyond 64 bits | error | exact JSON number (serde_json's `arbitrary_precision`) |
/// | machine float | JSON number | error |
/// | string that is not UTF-8 | error | `{"base64": …}` ([`crate::json_text`]) |
/// | list with holes | holes as `null` | error |
/// | record name that is not UTF-8 | error | given lossily |
///
/// Every `Exact` value converts back ([`IntoGap`] for
/// [`serde_json::Value`]) to an equal GAP object, except for lossy record
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonForm {
    /// What any JSON reader (a serde struct, JavaScript) takes as it is:
    /// numbers within 64-bit integers or machine floats, Unicode strings.
    /// [`GapObj::to_json`] and [`GapObj::deserialize`] use it.
    Portable,
    /// Exact values, as `gaprun serve` answers (its `json` field): integers
    /// of any size, strings as their bytes. Machine floats are left out
    /// (serve's protocol documents them as having no `json`).
    Exact,
}

fn no_json_form(from: &str, form: JsonForm, detail: String) -> Error {
    let to = match form {
        JsonForm::Portable => "portable JSON",
        JsonForm::Exact => "exact JSON",
    };
    Error::conversion(from, to, detail)
}

fn to_json_depth(obj: &GapObj<'_>, form: JsonForm, depth: usize) -> Result<serde_json::Value> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return Err(Error::conversion(
            "GAP object",
            "JSON",
            format!("nested deeper than {MAX_DEPTH} levels (a list that contains itself?)"),
        ));
    }
    Ok(match obj.kind()? {
        Kind::Int => match i64::from_gap(obj) {
            Ok(v) => Value::from(v),
            Err(_) => match form {
                JsonForm::Portable => Value::from(u64::from_gap(obj).map_err(|_| {
                    no_json_form(
                        "GAP integer",
                        form,
                        format!("the integer {obj} does not fit 64 bits"),
                    )
                })?),
                JsonForm::Exact => {
                    let digits = BigInt::from_gap(obj)?.to_string();
                    let n = digits
                        .parse::<serde_json::Number>()
                        .map_err(|e| no_json_form("GAP integer", form, format!("{digits}: {e}")))?;
                    Value::Number(n)
                }
            },
        },
        Kind::Float => match form {
            JsonForm::Portable => {
                let f = f64::from_gap(obj)?;
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| {
                        no_json_form("GAP float", form, format!("the float {f} has no JSON form"))
                    })?
            }
            JsonForm::Exact => {
                return Err(no_json_form(
                    "GAP float",
                    form,
                    "machine floats are not part of the exact form".into(),
                ))
            }
        },
        Kind::String => match form {
            JsonForm::Portable => Value::String(String::from_gap(obj)?),
            JsonForm::Exact => json_text::string_value(&obj.to_bytes()?),
        },
        Kind::Bool => Value::Bool(bool::from_gap(obj)?),
        Kind::Fail => Value::Null,
        Kind::List => {
            let len = obj.len()?;
            let mut items = Vec::with_capacity(len);
            for i in 1..=len {
                match obj.get(i)? {
                    Some(e) => items.push(to_json_depth(&e, form, depth + 1)?),
                    None if form == JsonForm::Portable => items.push(Value::Null),
                    None => {
                        return Err(no_json_form(
                            "GAP list",
                            form,
                            format!("position {i} is unbound (a list with holes)"),
                        ))
                    }
                }
            }
            Value::Array(items)
        }
        Kind::Record => {
            let mut map = serde_json::Map::new();
            for (name, value) in record_entries_raw(obj)? {
                let name = match form {
                    JsonForm::Portable => record_name_text(name)?,
                    JsonForm::Exact => String::from_utf8_lossy(&name).into_owned(),
                };
                map.insert(name, to_json_depth(&value, form, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => return Err(wrong_kind(obj, "a value with a JSON form")),
    })
}

fn record_name_text(name: Vec<u8>) -> Result<String> {
    String::from_utf8(name).map_err(|_| {
        Error::conversion("GAP record", "record entries", "a record name is not UTF-8")
    })
}

fn record_entries<'gap>(obj: &GapObj<'gap>) -> Result<Vec<(String, GapObj<'gap>)>> {
    record_entries_raw(obj)?
        .into_iter()
        .map(|(name, value)| Ok((record_name_text(name)?, value)))
        .collect()
}

/// A plain record's entries, names as their bytes.
fn record_entries_raw<'gap>(obj: &GapObj<'gap>) -> Result<Vec<(Vec<u8>, GapObj<'gap>)>> {
    let mut len = 0usize;
    // SAFETY: the object is rooted; the shim checks it is a plain record.
    if unsafe { sys::gaprun_record_len(obj.raw(), &mut len) } != sys::GAPRUN_OK as i32 {
        return Err(wrong_kind(obj, "a plain record"));
    }
    let mut out = Vec::with_capacity(len);
    for i in 1..=len {
        let mut name: RawObj = std::ptr::null_mut();
        let mut value: RawObj = std::ptr::null_mut();
        // SAFETY: `i` is in range; no allocation happens before both
        // results are rooted (the record keeps them alive meanwhile).
        check(unsafe { sys::gaprun_record_entry(obj.raw(), i, &mut name, &mut value) })?;
        let value = root(obj.gap(), value)?;
        let name = string_bytes(name).ok_or_else(|| {
            Error::conversion(
                "GAP record",
                "record entries",
                "a record name is not a string",
            )
        })?;
        out.push((name, value));
    }
    Ok(out)
}

// ---- GapObj itself, (), Option ---------------------------------------------

impl<'gap> FromGap<'gap> for GapObj<'gap> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        Ok(obj.clone())
    }
}

impl IntoGap for GapObj<'_> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        // Same runtime (there is one per process), so sharing the root
        // under the caller's lifetime is sound.
        Ok(self.with_token(gap))
    }
}

impl<'gap> FromGap<'gap> for () {
    fn from_gap(_obj: &GapObj<'gap>) -> Result<Self> {
        Ok(())
    }
    fn from_no_value() -> Result<Self> {
        Ok(())
    }
}

impl<'gap, T: FromGap<'gap>> FromGap<'gap> for Option<T> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        if obj.is_fail() {
            Ok(None)
        } else {
            T::from_gap(obj).map(Some)
        }
    }
    fn from_no_value() -> Result<Self> {
        Ok(None)
    }
}

impl<T: IntoGap> IntoGap for Option<T> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        match self {
            Some(v) => v.to_gap(gap),
            // SAFETY: reading a constant set at start-up.
            None => root(gap, unsafe { sys::gaprun_bool_obj(2) }),
        }
    }
}

// ---- booleans ----------------------------------------------------------------

impl<'gap> FromGap<'gap> for bool {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        let mut v = 0;
        // SAFETY: compares against constants only.
        let status = unsafe { sys::gaprun_bool_value(obj.raw(), &mut v) };
        match (status as u32, v) {
            (sys::GAPRUN_OK, 0) => Ok(false),
            (sys::GAPRUN_OK, 1) => Ok(true),
            _ => Err(wrong_kind(obj, "true or false")),
        }
    }
}

impl IntoGap for bool {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        // SAFETY: reading a constant set at start-up.
        root(gap, unsafe { sys::gaprun_bool_obj(*self as i32) })
    }
}

// ---- integers -------------------------------------------------------------------

/// Sign and magnitude limbs (least significant first) of a GAP integer.
fn int_limbs(obj: &GapObj<'_>) -> Result<(bool, Vec<u64>)> {
    let mut size = 0i64;
    // SAFETY: the object is rooted; the shim checks it is an integer.
    if unsafe { sys::gaprun_int_size(obj.raw(), &mut size) } != sys::GAPRUN_OK as i32 {
        return Err(wrong_kind(obj, "an integer"));
    }
    let n = size.unsigned_abs() as usize;
    let mut limbs = vec![0u64; n];
    // SAFETY: `limbs` has room for exactly the limbs the object has; the
    // copy happens before any allocation.
    check(unsafe { sys::gaprun_int_limbs(obj.raw(), limbs.as_mut_ptr(), n) })?;
    Ok((size < 0, limbs))
}

/// A GAP integer from sign and magnitude limbs.
fn int_from_limbs<'gap>(gap: Gap<'gap>, negative: bool, limbs: &[u64]) -> Result<GapObj<'gap>> {
    let n = limbs.len() as i64;
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: `limbs` is a valid array of `n` limbs; GAP copies it.
    check(unsafe {
        sys::gaprun_make_int_limbs(limbs.as_ptr(), if negative { -n } else { n }, &mut out)
    })?;
    root(gap, out)
}

/// A small (immediate) GAP integer, if it is one.
fn small_int(obj: &GapObj<'_>) -> Option<i64> {
    let mut v = 0i64;
    // SAFETY: reads an immediate integer only; MISUSE for anything else.
    (unsafe { sys::gaprun_int_value(obj.raw(), &mut v) } == sys::GAPRUN_OK as i32).then_some(v)
}

fn int_i128(obj: &GapObj<'_>, ty: &str) -> Result<(bool, u128)> {
    if let Some(v) = small_int(obj) {
        return Ok((v < 0, v.unsigned_abs() as u128));
    }
    let (neg, limbs) = int_limbs(obj)?;
    if limbs.len() > 2 {
        return Err(Error::conversion(
            "GAP integer",
            ty,
            format!("the integer {obj} does not fit {ty}"),
        ));
    }
    let lo = limbs.first().copied().unwrap_or(0) as u128;
    let hi = limbs.get(1).copied().unwrap_or(0) as u128;
    Ok((neg, lo | (hi << 64)))
}

macro_rules! int_conversions {
    ($($t:ty),*) => {$(
        impl<'gap> FromGap<'gap> for $t {
            fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
                let ty = stringify!($t);
                if let Some(v) = small_int(obj) {
                    return <$t>::try_from(v)
                        .map_err(|_| Error::conversion("GAP integer", ty, format!("the integer {v} does not fit {ty}")));
                }
                let (neg, mag) = int_i128(obj, ty)?;
                let value: Option<$t> = if neg {
                    // the magnitude of i128::MIN is 2^127: wrapping_neg
                    // maps it (as i128::MIN) to itself, as it should
                    (mag <= 1u128 << 127)
                        .then(|| (mag as i128).wrapping_neg())
                        .and_then(|v| <$t>::try_from(v).ok())
                } else {
                    <$t>::try_from(mag).ok()
                };
                value.ok_or_else(|| Error::conversion("GAP integer", ty, format!("the integer {obj} does not fit {ty}")))
            }

            fn vec_from_gap(list: &GapObj<'gap>) -> Result<Vec<Self>> {
                match small_int_list(list)? {
                    Some(values) => values
                        .into_iter()
                        .map(|v| <$t>::try_from(v).map_err(|_| Error::conversion(
                            "GAP integer", stringify!($t),
                            format!("the integer {v} does not fit {}", stringify!($t)))))
                        .collect(),
                    None => default_vec_from_gap(list),
                }
            }
        }

        impl IntoGap for $t {
            fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
                let v = *self;
                #[allow(irrefutable_let_patterns)]
                if let Ok(small) = i64::try_from(v) {
                    let mut out: RawObj = std::ptr::null_mut();
                    // SAFETY: GAP makes a small or large integer from an Int.
                    check(unsafe { sys::gaprun_make_int(small, &mut out) })?;
                    return root(gap, out);
                }
                #[allow(unused_comparisons)]
                let neg = v < 0;
                #[allow(unused_comparisons)]
                let mag = if v < 0 { (v as i128).unsigned_abs() } else { v as u128 };
                let limbs = [mag as u64, (mag >> 64) as u64];
                let n = if limbs[1] == 0 { 1 } else { 2 };
                int_from_limbs(gap, neg, &limbs[..n])
            }

            fn slice_to_gap<'gap>(items: &[Self], gap: Gap<'gap>) -> Result<GapObj<'gap>> {
                let small: Option<Vec<i64>> = items
                    .iter()
                    .map(|&v| i64::try_from(v).ok().filter(|v| (SMALL_MIN..=SMALL_MAX).contains(v)))
                    .collect();
                match small {
                    Some(values) => small_int_list_to_gap(gap, &values),
                    None => default_slice_to_gap(items, gap),
                }
            }
        }
    )*};
}

/// GAP's small integers on 64-bit machines: 61 bits, two's complement.
const SMALL_MIN: i64 = -(1 << 60);
const SMALL_MAX: i64 = (1 << 60) - 1;

int_conversions!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

fn default_vec_from_gap<'gap, T: FromGap<'gap>>(list: &GapObj<'gap>) -> Result<Vec<T>> {
    let len = list.len()?;
    let mut out = Vec::with_capacity(len);
    for i in 1..=len {
        let elm = list.get(i)?.ok_or_else(|| {
            Error::conversion(
                "GAP list",
                std::any::type_name::<Vec<T>>(),
                format!("list position {i} is unbound"),
            )
        })?;
        out.push(T::from_gap(&elm)?);
    }
    Ok(out)
}

fn default_slice_to_gap<'gap, T: IntoGap>(items: &[T], gap: Gap<'gap>) -> Result<GapObj<'gap>> {
    let list = new_list(gap, items.len())?;
    for (i, item) in items.iter().enumerate() {
        let v = item.to_gap(gap)?;
        // SAFETY: both objects are rooted by their handles.
        check(unsafe { sys::gaprun_list_assign(list.raw(), i + 1, v.raw()) })?;
    }
    Ok(list)
}

/// All entries of a plain list or range that holds only small integers, in
/// one shim call (`None`: take the element-by-element path).
fn small_int_list(list: &GapObj<'_>) -> Result<Option<Vec<i64>>> {
    let len = list.len()?;
    let mut buf = vec![0i64; len];
    // SAFETY: `buf` has room for `len` values; the shim reads without
    // allocating and refuses anything but a plain list/range of small ints.
    let status = unsafe { sys::gaprun_list_small_ints(list.raw(), buf.as_mut_ptr(), len) };
    Ok((status == sys::GAPRUN_OK as i32).then_some(buf))
}

fn small_int_list_to_gap<'gap>(gap: Gap<'gap>, values: &[i64]) -> Result<GapObj<'gap>> {
    if values.len() > MAX_LIST_LEN {
        return Err(Error::InvalidArgument(format!(
            "a list of {} elements is longer than gaprun converts ({MAX_LIST_LEN})",
            values.len()
        )));
    }
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: valid array of `len` values; the shim checks each fits.
    check(unsafe { sys::gaprun_make_int_list(values.as_ptr(), values.len(), &mut out) })?;
    root(gap, out)
}

impl<'gap> FromGap<'gap> for BigInt {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        if let Some(v) = small_int(obj) {
            return Ok(BigInt::from(v));
        }
        let (neg, limbs) = int_limbs(obj)?;
        let mut digits = Vec::with_capacity(limbs.len() * 2);
        for l in limbs {
            digits.push(l as u32);
            digits.push((l >> 32) as u32);
        }
        let mag = BigUint::new(digits);
        Ok(BigInt::from_biguint(
            if neg { Sign::Minus } else { Sign::Plus },
            mag,
        ))
    }
}

impl IntoGap for BigInt {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        if let Ok(v) = i64::try_from(self) {
            return v.to_gap(gap);
        }
        let limbs = self.magnitude().to_u64_digits();
        int_from_limbs(gap, self.sign() == Sign::Minus, &limbs)
    }
}

impl<'gap> FromGap<'gap> for BigUint {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        let v = BigInt::from_gap(obj)?;
        v.to_biguint().ok_or_else(|| {
            Error::conversion(
                "GAP integer",
                "BigUint",
                format!("the integer {obj} is negative"),
            )
        })
    }
}

impl IntoGap for BigUint {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        int_from_limbs(gap, false, &self.to_u64_digits())
    }
}

// ---- rationals and floats ------------------------------------------------------

#[cfg(feature = "bigint")]
fn rat_parts<'gap>(obj: &GapObj<'gap>) -> Result<(GapObj<'gap>, GapObj<'gap>)> {
    let mut num: RawObj = std::ptr::null_mut();
    let mut den: RawObj = std::ptr::null_mut();
    // SAFETY: reads two fields without allocating; the rational (rooted)
    // keeps both alive until they are rooted themselves.
    if unsafe { sys::gaprun_rat_parts(obj.raw(), &mut num, &mut den) } != sys::GAPRUN_OK as i32 {
        return Err(wrong_kind(obj, "a rational"));
    }
    Ok((root(obj.gap(), num)?, root(obj.gap(), den)?))
}

#[cfg(feature = "bigint")]
impl<'gap> FromGap<'gap> for BigRational {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        let (n, d) = rat_parts(obj)?;
        Ok(BigRational::new_raw(
            BigInt::from_gap(&n)?,
            BigInt::from_gap(&d)?,
        ))
    }
}

#[cfg(feature = "bigint")]
impl IntoGap for BigRational {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let n = self.numer().to_gap(gap)?;
        let d = self.denom().to_gap(gap)?;
        n.div(&d)
    }
}

#[cfg(feature = "bigint")]
impl<'gap> FromGap<'gap> for Ratio<i64> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        let (n, d) = rat_parts(obj)?;
        Ok(Ratio::new_raw(i64::from_gap(&n)?, i64::from_gap(&d)?))
    }
}

#[cfg(feature = "bigint")]
impl IntoGap for Ratio<i64> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let n = self.numer().to_gap(gap)?;
        n.div(self.denom())
    }
}

impl<'gap> FromGap<'gap> for f64 {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        let mut v = 0.0;
        // SAFETY: reads a machine float; MISUSE for anything else.
        if unsafe { sys::gaprun_float_value(obj.raw(), &mut v) } != sys::GAPRUN_OK as i32 {
            return Err(wrong_kind(obj, "a machine float"));
        }
        Ok(v)
    }
}

impl IntoGap for f64 {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let mut out: RawObj = std::ptr::null_mut();
        // SAFETY: plain allocation inside the shim's jump point.
        check(unsafe { sys::gaprun_make_float(*self, &mut out) })?;
        root(gap, out)
    }
}

impl<'gap> FromGap<'gap> for f32 {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        Ok(f64::from_gap(obj)? as f32)
    }
}

impl IntoGap for f32 {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        (*self as f64).to_gap(gap)
    }
}

// ---- strings ------------------------------------------------------------------

fn bytes_to_gap<'gap>(gap: Gap<'gap>, bytes: &[u8]) -> Result<GapObj<'gap>> {
    if bytes.len() > MAX_STRING_BYTES {
        return Err(Error::InvalidArgument(format!(
            "a string of {} bytes is longer than gaprun converts ({MAX_STRING_BYTES})",
            bytes.len()
        )));
    }
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: valid byte range; GAP copies it.
    check(unsafe { sys::gaprun_make_string(bytes.as_ptr() as *const _, bytes.len(), &mut out) })?;
    root(gap, out)
}

impl<'gap> FromGap<'gap> for String {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        String::from_utf8(obj.to_bytes()?).map_err(|e| {
            Error::conversion(
                "GAP string",
                "String",
                format!(
                    "not valid UTF-8 (byte {}); use ByteString for raw bytes",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

impl IntoGap for str {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        bytes_to_gap(gap, self.as_bytes())
    }
}

impl IntoGap for String {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        bytes_to_gap(gap, self.as_bytes())
    }
}

/// A GAP string as raw bytes (GAP strings are byte strings: any byte,
/// NUL included, is allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ByteString(pub Vec<u8>);

impl<'gap> FromGap<'gap> for ByteString {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        obj.to_bytes().map(ByteString)
    }
}

impl IntoGap for ByteString {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        bytes_to_gap(gap, &self.0)
    }
}

/// Any object as GAP views it (`ViewString`): finite field elements
/// (`Z(7)^3`), cyclotomics (`E(5)+E(5)^4`), groups …
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewString(pub String);

impl<'gap> FromGap<'gap> for ViewString {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        obj.gap().view(obj).map(ViewString)
    }
}

// ---- lists -------------------------------------------------------------------

impl<'gap, T: FromGap<'gap>> FromGap<'gap> for Vec<T> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        match obj.kind()? {
            Kind::List => T::vec_from_gap(obj),
            _ => Err(wrong_kind(obj, "a list")),
        }
    }
}

impl<T: IntoGap> IntoGap for [T] {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        T::slice_to_gap(self, gap)
    }
}

impl<T: IntoGap> IntoGap for Vec<T> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        T::slice_to_gap(self, gap)
    }
}

impl<T: IntoGap, const N: usize> IntoGap for [T; N] {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        T::slice_to_gap(self, gap)
    }
}

fn range_to_gap(gap: Gap<'_>, start: i64, len: i64) -> Result<GapObj<'_>> {
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: the shim checks the bounds and raises for bad ones.
    check(unsafe { sys::gaprun_make_range(len, start, 1, &mut out) })?;
    root(gap, out)
}

/// `a..b` becomes GAP's range `[a..b-1]`.
impl IntoGap for std::ops::Range<i64> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let len = self.end.saturating_sub(self.start).max(0);
        range_to_gap(gap, self.start, len)
    }
}

/// `a..=b` becomes GAP's range `[a..b]`.
impl IntoGap for std::ops::RangeInclusive<i64> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let len = if self.end() < self.start() {
            0
        } else {
            self.end()
                .checked_sub(*self.start())
                .and_then(|d| d.checked_add(1))
                .ok_or_else(|| Error::InvalidArgument("range too long for GAP".into()))?
        };
        range_to_gap(gap, *self.start(), len)
    }
}

// ---- records -----------------------------------------------------------------

/// A name GAP accepts for a record component.
fn record_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidArgument(
            "a record name must not be empty".into(),
        ));
    }
    Ok(())
}

fn record_to_gap<'gap, 'a, T: IntoGap + 'a>(
    gap: Gap<'gap>,
    entries: impl Iterator<Item = (&'a String, &'a T)>,
) -> Result<GapObj<'gap>> {
    let mut out: RawObj = std::ptr::null_mut();
    // SAFETY: plain allocation inside the shim's jump point.
    check(unsafe { sys::gaprun_make_record(&mut out) })?;
    let rec = root(gap, out)?;
    for (name, value) in entries {
        record_name(name)?;
        let v = value.to_gap(gap)?;
        // SAFETY: both objects are rooted; the name is a valid byte range.
        check(unsafe {
            sys::gaprun_record_assign(rec.raw(), name.as_ptr() as *const _, name.len(), v.raw())
        })?;
    }
    Ok(rec)
}

impl<'gap, T: FromGap<'gap>> FromGap<'gap> for BTreeMap<String, T> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        record_entries(obj)?
            .into_iter()
            .map(|(k, v)| Ok((k, T::from_gap(&v)?)))
            .collect()
    }
}

impl<T: IntoGap> IntoGap for BTreeMap<String, T> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        record_to_gap(gap, self.iter())
    }
}

impl<'gap, T: FromGap<'gap>, S: BuildHasher + Default> FromGap<'gap> for HashMap<String, T, S> {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        record_entries(obj)?
            .into_iter()
            .map(|(k, v)| Ok((k, T::from_gap(&v)?)))
            .collect()
    }
}

impl<T: IntoGap, S: BuildHasher> IntoGap for HashMap<String, T, S> {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        record_to_gap(gap, self.iter())
    }
}

// ---- permutations ----------------------------------------------------------------

/// A permutation as its image list, 1-based as in GAP: `images[i-1]` is
/// `i^p` (GAP's `ListPerm(p)`; trailing fixed points may be left out).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Permutation(pub Vec<usize>);

impl<'gap> FromGap<'gap> for Permutation {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        if obj.kind()? != Kind::Permutation {
            return Err(wrong_kind(obj, "a permutation"));
        }
        obj.gap()
            .call_global("ListPerm", &[obj])?
            .extract()
            .map(Permutation)
    }
}

impl IntoGap for Permutation {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        let p = gap.call_global("PermList", &[&self.0.to_gap(gap)?])?;
        if p.is_fail() {
            return Err(Error::InvalidArgument(format!(
                "{:?} is not the image list of a permutation of 1..{}",
                self.0,
                self.0.len()
            )));
        }
        Ok(p)
    }
}

// ---- JSON and serde ------------------------------------------------------------------

/// A JSON number as GAP holds it. JSON text without a fraction or exponent
/// is an integer, kept exact at any size (`18446744073709551616` stays an
/// integer: serde_json's `arbitrary_precision` keeps the digits as
/// written); anything else is a machine float, which must be finite.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonNumber {
    /// Written without fraction or exponent: exact.
    Int(BigInt),
    /// Anything else: a finite machine float.
    Float(f64),
}

impl JsonNumber {
    /// Read a JSON number; `Err` for a float beyond `f64` (`1e400`).
    pub fn parse(n: &serde_json::Number) -> Result<JsonNumber> {
        let text = n.to_string();
        if let Ok(i) = text.parse::<BigInt>() {
            return Ok(JsonNumber::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(JsonNumber::Float(f)),
            _ => Err(Error::conversion(
                "JSON number",
                "GAP float",
                format!("the number {text} does not fit a machine float"),
            )),
        }
    }
}

/// A `{"base64": …}` object that does not decode.
fn base64_error(detail: String) -> Error {
    Error::conversion("JSON {\"base64\": …}", "GAP string", detail)
}

/// Check, without GAP, that a JSON value converts to a GAP object: numbers
/// fit (see [`JsonNumber`]), `{"base64": …}` objects decode, record names
/// are not empty. The same rules [`IntoGap`] applies, so a caller can
/// reject bad input before it starts GAP.
pub fn check_json(v: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => JsonNumber::parse(n).map(drop),
        Value::Array(items) => items.iter().try_for_each(check_json),
        Value::Object(map) => match json_text::value_bytes(v) {
            Some(bytes) => bytes.map(drop).map_err(base64_error),
            None => map.iter().try_for_each(|(name, value)| {
                record_name(name)?;
                check_json(value)
            }),
        },
    }
}

/// JSON → GAP: `null` → `fail`, booleans, numbers as [`JsonNumber`] says,
/// strings, `{"base64": "…"}` → the GAP string of those bytes (see
/// [`crate::json_text`]), arrays → lists, other objects → records.
impl IntoGap for serde_json::Value {
    fn to_gap<'gap>(&self, gap: Gap<'gap>) -> Result<GapObj<'gap>> {
        use serde_json::Value;
        match self {
            Value::Null => None::<bool>.to_gap(gap),
            Value::Bool(b) => b.to_gap(gap),
            Value::Number(n) => match JsonNumber::parse(n)? {
                JsonNumber::Int(i) => i.to_gap(gap),
                JsonNumber::Float(f) => f.to_gap(gap),
            },
            Value::String(s) => s.to_gap(gap),
            Value::Array(items) => items.to_gap(gap),
            Value::Object(map) => match json_text::value_bytes(self) {
                Some(bytes) => bytes_to_gap(gap, &bytes.map_err(base64_error)?),
                None => record_to_gap(gap, map.iter()),
            },
        }
    }
}

impl<'gap> FromGap<'gap> for serde_json::Value {
    fn from_gap(obj: &GapObj<'gap>) -> Result<Self> {
        obj.to_json()
    }
}

impl<'gap> Gap<'gap> {
    /// Convert a Rust value into a GAP object.
    ///
    /// ```
    /// # let gap = gaprun::Gap::init(gaprun::GapOptions { autoload: false, ..Default::default() })?;
    /// let l = gap.value(&vec![3, 1, 2])?;
    /// assert_eq!(l.to_string(), "[ 3, 1, 2 ]");
    /// # Ok::<(), gaprun::Error>(())
    /// ```
    pub fn value<T: IntoGap + ?Sized>(self, v: &T) -> Result<GapObj<'gap>> {
        v.to_gap(self)
    }

    /// Convert a serde-serializable value (a struct becomes a record)
    /// through its JSON form.
    #[cfg(feature = "serde")]
    pub fn serde_value<T: serde::Serialize + ?Sized>(self, v: &T) -> Result<GapObj<'gap>> {
        let json = serde_json::to_value(v)
            .map_err(|e| Error::conversion(std::any::type_name::<T>(), "JSON", e.to_string()))?;
        json.to_gap(self)
    }
}
