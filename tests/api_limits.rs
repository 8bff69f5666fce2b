//! GAP's pre-set memory limit (`-o`, `GapOptions::warn_limit`) through the
//! embedding API: its own binary, because GAP is started once per process
//! and this one needs a small limit.

use gaprun::{Error, Gap, GapOptions};

#[test]
fn memory_limit_is_its_own_error_and_gap_goes_on() {
    // GAP lives on one thread; the test runs everything on this one.
    let gap = Gap::init(GapOptions {
        autoload: false,
        warn_limit: Some(256 << 20),
        ..GapOptions::default()
    })
    .expect("GAP starts");
    // The limit reached while *viewing* a value (a ViewObj method that
    // allocates), outside the statement itself: reported for that
    // statement (GAP's ViewObjHandler swallows the error itself), and the
    // shim's view output is closed. (GAP raises its -o limit after each
    // report, so the first such allocation is the one that trips it.)
    gap.eval_value(concat!(
        "DeclareCategory(\"IsHog\", IsObject);; ",
        "HogType := NewType(NewFamily(\"HogFamily\"), IsHog and IsPositionalObjectRep);; ",
        "InstallMethod(ViewObj, [IsHog], function(h) local l, i; l := []; ",
        "for i in [1..200] do Add(l, ListWithIdenticalEntries(10^6, i)); od; ",
        "Print(\"<hog>\"); end);; 0;"
    ))
    .unwrap();
    let st = gap.eval("Objectify(HogType, []);").unwrap();
    assert_eq!(st.len(), 1, "{st:?}");
    assert!(st[0].memory_limit && st[0].view.is_none(), "{st:?}");
    gap.collect(true).unwrap();
    let st = gap.eval("Print(\"x\"); 2;").unwrap();
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(st[0].output, "x");
    assert_eq!(st[1].view.as_deref(), Some("2"));
    let grow = "l := [];; for i in [1..200] do Add(l, ListWithIdenticalEntries(10^6, i)); od;";
    let e = gap.eval_value(&format!("{grow} 0;")).unwrap_err();
    assert!(matches!(e, Error::MemoryLimit), "{e:?}");
    gap.eval_value("Unbind(l); 0;").unwrap();
    gap.collect(true).unwrap();
    assert_eq!(gap.eval_as::<i64>("1+1").unwrap(), 2);
    // per statement, and through a call
    let st = gap.eval(grow).unwrap();
    assert!(st[1].memory_limit, "{st:?}");
    assert!(matches!(st[1].failure(), Some(Error::MemoryLimit)));
    gap.eval_value("Unbind(l); 0;").unwrap();
    gap.collect(true).unwrap();
    // an ordinary error saying the same words is an ordinary error
    let e = gap
        .eval_value("Error(\"reached the pre-set memory limit\");")
        .unwrap_err();
    assert!(matches!(e, Error::Gap(_)), "{e:?}");
    assert_eq!(gap.eval_as::<i64>("3+3").unwrap(), 6);
}
