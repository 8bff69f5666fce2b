//! The safe embedding API against real GAP: conversions both ways, calls,
//! operations, errors, deadlines and rooting under collections.
mod common;

use common::with_gap;
use gaprun::{ByteString, Error, GapObj, Kind, Permutation, ViewString};
use num_bigint::BigInt;
use num_rational::BigRational;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[test]
fn scalars_round_trip() {
    with_gap(|gap| {
        for v in [
            0i64,
            1,
            -1,
            (1 << 60) - 1,
            -(1 << 60),
            1 << 60,
            i64::MAX,
            i64::MIN,
        ] {
            let o = gap.value(&v).unwrap();
            assert_eq!(o.extract::<i64>().unwrap(), v);
            assert_eq!(o.to_string(), v.to_string());
        }
        for v in [u64::MAX, 0, 1 << 63] {
            assert_eq!(gap.value(&v).unwrap().extract::<u64>().unwrap(), v);
        }
        for v in [i128::MAX, i128::MIN, 0, -1, 1 << 100] {
            let o = gap.value(&v).unwrap();
            assert_eq!(o.to_string(), v.to_string());
            assert_eq!(o.extract::<i128>().unwrap(), v);
        }
        assert_eq!(
            gap.value(&u128::MAX).unwrap().extract::<u128>().unwrap(),
            u128::MAX
        );
        assert!(gap.value(&true).unwrap().extract::<bool>().unwrap());
        assert_eq!(gap.value(&1.5f64).unwrap().extract::<f64>().unwrap(), 1.5);
        assert_eq!(gap.eval_as::<f64>("Float(1/4)").unwrap(), 0.25);
        let s = "grüße \u{1F600}";
        assert_eq!(gap.value(s).unwrap().extract::<String>().unwrap(), s);
        assert_eq!(gap.eval_as::<String>("List(\"abc\")").unwrap(), "abc");
    });
}

/// Conversion failures say what was converted to what (issue 12 item 4).
#[test]
fn conversion_errors_carry_from_and_to() {
    with_gap(|gap| {
        match gap.eval_value("2^64").unwrap().extract::<u64>() {
            Err(Error::Conversion { from, to, detail }) => {
                assert_eq!((from.as_str(), to.as_str()), ("GAP integer", "u64"));
                assert!(detail.contains("18446744073709551616"), "{detail}");
            }
            other => panic!("expected a conversion error, got {other:?}"),
        }
        match gap.eval_value("\"abc\"").unwrap().extract::<i64>() {
            Err(Error::Conversion { from, to, .. }) => {
                assert_eq!((from.as_str(), to.as_str()), ("GAP String", "an integer"));
            }
            other => panic!("expected a conversion error, got {other:?}"),
        }
        match gap
            .eval_value("[\"a\",, \"c\"]")
            .unwrap()
            .extract::<Vec<String>>()
        {
            Err(Error::Conversion { from, to, detail }) => {
                assert_eq!(from, "GAP list");
                assert!(to.contains("Vec<"), "{to}");
                assert!(detail.contains("position 2"), "{detail}");
            }
            other => panic!("expected a conversion error, got {other:?}"),
        }
    });
}

#[test]
fn range_checks_are_errors_not_panics() {
    with_gap(|gap| {
        let big = gap.eval_value("2^64").unwrap();
        assert!(matches!(
            big.extract::<u64>(),
            Err(Error::Conversion { .. })
        ));
        assert!(matches!(
            big.extract::<i64>(),
            Err(Error::Conversion { .. })
        ));
        assert_eq!(big.extract::<u128>().unwrap(), 1u128 << 64);
        assert!(gap.eval_value("-1").unwrap().extract::<u32>().is_err());
        assert!(gap.eval_value("300").unwrap().extract::<u8>().is_err());
        assert!(gap.eval_value("-2^127").unwrap().extract::<i128>().is_ok());
        assert!(gap
            .eval_value("-2^127-1")
            .unwrap()
            .extract::<i128>()
            .is_err());
        assert!(gap.eval_value("2^127").unwrap().extract::<i128>().is_err());
        let e = gap
            .eval_value("\"x\"")
            .unwrap()
            .extract::<i64>()
            .unwrap_err();
        assert!(
            matches!(&e, Error::Conversion { to, .. } if to == "an integer"),
            "{e}"
        );
        assert!(gap.eval_value("1/2").unwrap().extract::<i64>().is_err());
        assert!(gap.eval_value("fail").unwrap().extract::<bool>().is_err());
        assert!(gap
            .eval_value("[1,2]")
            .unwrap()
            .extract::<String>()
            .is_err());
        assert!(gap.eval_value("1").unwrap().extract::<Vec<i64>>().is_err());
        assert!(gap
            .eval_value("[1,,3]")
            .unwrap()
            .extract::<Vec<i64>>()
            .is_err());
        assert!(gap
            .eval_value("[1,\"a\"]")
            .unwrap()
            .extract::<Vec<i64>>()
            .is_err());
        assert!(gap.eval_value("1").unwrap().len().is_err());
        assert!(gap
            .eval_value("1")
            .unwrap()
            .extract::<Permutation>()
            .is_err());
    });
}

#[test]
fn bytes_and_invalid_utf8() {
    with_gap(|gap| {
        let raw = ByteString(vec![0, 255, b'a', 0]);
        let o = gap.value(&raw).unwrap();
        assert_eq!(o.kind().unwrap(), Kind::String);
        assert_eq!(o.extract::<ByteString>().unwrap(), raw);
        assert_eq!(gap.call_fn::<i64>("Length", (&o,)).unwrap(), 4);
        let e = o.extract::<String>().unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        // a NUL byte in a global's name is refused before GAP sees it
        assert!(matches!(gap.global("a\0b"), Err(Error::InvalidArgument(_))));
    });
}

#[test]
fn huge_string_is_refused() {
    with_gap(|gap| {
        // calloc'd: the pages are never touched
        let huge = ByteString(vec![0u8; gaprun::convert::MAX_STRING_BYTES + 1]);
        assert!(matches!(gap.value(&huge), Err(Error::InvalidArgument(_))));
        assert_eq!(gap.eval_as::<i64>("1+1").unwrap(), 2);
    });
}

#[test]
fn big_integers_and_rationals() {
    with_gap(|gap| {
        let b: BigInt = gap.eval_as("-(3^500)").unwrap();
        assert_eq!(b, -BigInt::from(3).pow(500));
        let o = gap.value(&b).unwrap();
        assert!(o.equals(gap.eval_value("-(3^500)").unwrap()).unwrap());
        let r: BigRational = gap.eval_as("-2^70/3^50").unwrap();
        assert_eq!(
            r,
            BigRational::new(-BigInt::from(2).pow(70), BigInt::from(3).pow(50))
        );
        let back = gap.value(&r).unwrap();
        assert_eq!(
            back.to_string(),
            gap.eval_value("-2^70/3^50").unwrap().to_string()
        );
        let half = gap.value(&num_rational::Ratio::new(2i64, 4)).unwrap();
        assert_eq!(half.to_string(), "1/2");
        assert_eq!(half.kind().unwrap(), Kind::Rational);
    });
}

#[test]
fn lists_ranges_records_perms() {
    with_gap(|gap| {
        let v: Vec<i64> = (0..1000).map(|i| i * i - 500).collect();
        let l = gap.value(&v).unwrap();
        assert_eq!(l.extract::<Vec<i64>>().unwrap(), v);
        let nested = vec![vec!["a".to_string()], vec![], vec!["b".into(), "c".into()]];
        let o = gap.value(&nested).unwrap();
        assert_eq!(o.to_string(), "[ [ \"a\" ], [  ], [ \"b\", \"c\" ] ]");
        assert_eq!(o.extract::<Vec<Vec<String>>>().unwrap(), nested);
        let r = gap.value(&(1..=10i64)).unwrap();
        assert_eq!(r.to_string(), "[ 1 .. 10 ]");
        assert_eq!(
            r.extract::<Vec<i64>>().unwrap(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(gap.value(&(5..5i64)).unwrap().len().unwrap(), 0);
        let mixed = vec![BigInt::from(1) << 100, BigInt::from(-7)];
        assert_eq!(
            gap.value(&mixed).unwrap().extract::<Vec<BigInt>>().unwrap(),
            mixed
        );

        let mut m = BTreeMap::new();
        m.insert("x".to_string(), 1i64);
        m.insert("yy".to_string(), -2);
        let rec = gap.value(&m).unwrap();
        assert_eq!(
            gap.call_fn::<i64>("Sum", (gap.eval_value("[1]").unwrap(),))
                .unwrap(),
            1
        );
        assert_eq!(rec.extract::<BTreeMap<String, i64>>().unwrap(), m);
        let h: HashMap<String, i64> = gap.eval_as("rec(a := 1, b := 2)").unwrap();
        assert_eq!(h["b"], 2);

        let p: Permutation = gap.eval_as("(1,3,2)(5,6)").unwrap();
        assert_eq!(p.0, vec![3, 1, 2, 4, 6, 5]);
        let back = gap.value(&p).unwrap();
        assert_eq!(back.to_string(), "(1,3,2)(5,6)");
        assert!(gap.value(&Permutation(vec![1, 1])).is_err());
        assert_eq!(
            gap.value(&p).unwrap().pow(2).unwrap().to_string(),
            "(1,2,3)"
        );

        let z: ViewString = gap.eval_as("Z(7)^3").unwrap();
        assert_eq!(z.0, "Z(7)^3");
        assert_eq!(
            gap.eval_value("Z(7)").unwrap().kind().unwrap(),
            Kind::FiniteFieldElement
        );
        let c = gap.eval_value("E(5)+E(5)^4").unwrap();
        assert_eq!(c.kind().unwrap(), Kind::Cyclotomic);
        assert_eq!(c.to_string(), "E(5)+E(5)^4");
        assert_eq!(format!("{c:?}"), "GapObj(E(5)+E(5)^4)");
        assert!(c.to_json().is_err());
    });
}

#[test]
fn json_and_serde() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Point {
        name: String,
        coords: Vec<i64>,
        tag: Option<bool>,
    }
    with_gap(|gap| {
        let p = Point {
            name: "p".into(),
            coords: vec![1, -2],
            tag: None,
        };
        let o = gap.serde_value(&p).unwrap();
        assert_eq!(o.kind().unwrap(), Kind::Record);
        assert!(gap
            .call_fn::<String>("String", (o.clone(),))
            .unwrap()
            .contains("coords"));
        assert_eq!(o.deserialize::<Point>().unwrap(), p);
        let j = gap
            .eval_value("[1, 2.5, \"s\", true, fail, rec(k := [])]")
            .unwrap()
            .to_json()
            .unwrap();
        assert_eq!(j, serde_json::json!([1, 2.5, "s", true, null, {"k": []}]));
        // a list that contains itself ends in an error, not a stack overflow
        let l = gap.eval_value("l := [1];; l[2] := l;; l").unwrap();
        assert!(l.to_json().is_err());
        assert!(gap.eval_value("2^100").unwrap().to_json().is_err());
    });
}

/// The exact form (serve's `json`) and the portable form (`to_json`), one
/// walk with two policies: what each gives for the values where they differ,
/// and what both refuse.
#[test]
fn json_forms_table() {
    use serde_json::json;
    // (GAP expression, exact form, portable form); None: no form
    let nested_100 = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let nested_100_json: serde_json::Value =
        serde_json::from_str(&format!("{}1{}", "[".repeat(100), "]".repeat(100))).unwrap();
    let cases: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)> = [
        ("5", Some(json!(5)), Some(json!(5))),
        ("-2^63", Some(json!(i64::MIN)), Some(json!(i64::MIN))),
        ("2^64-1", Some(json!(u64::MAX)), Some(json!(u64::MAX))),
        (
            "2^70",
            Some(serde_json::from_str("1180591620717411303424").unwrap()),
            None,
        ),
        (
            "-2^100",
            Some(serde_json::from_str("-1267650600228229401496703205376").unwrap()),
            None,
        ),
        ("true", Some(json!(true)), Some(json!(true))),
        ("fail", Some(json!(null)), Some(json!(null))),
        ("\"héllo\"", Some(json!("héllo")), Some(json!("héllo"))),
        ("\"\"", Some(json!("")), Some(json!(""))),
        ("[]", Some(json!([])), Some(json!([]))),
        ("['a', 'b']", Some(json!("ab")), Some(json!("ab"))),
        ("\"a\\377\"", Some(json!({"base64": "Yf8="})), None),
        ("2.5", None, Some(json!(2.5))),
        ("[1, 2.5]", None, Some(json!([1, 2.5]))),
        ("[1,,3]", None, Some(json!([1, null, 3]))),
        (
            "[1..4]",
            Some(json!([1, 2, 3, 4])),
            Some(json!([1, 2, 3, 4])),
        ),
        (
            "[true, false]",
            Some(json!([true, false])),
            Some(json!([true, false])),
        ),
        (
            "rec(a := [1, \"x\"], b := rec())",
            Some(json!({"a": [1, "x"], "b": {}})),
            Some(json!({"a": [1, "x"], "b": {}})),
        ),
        ("rec(a := 1/2)", None, None),
        ("1/2", None, None),
        ("'c'", None, None),
        ("(1,2)", None, None),
        ("Z(3)", None, None),
        ("SymmetricGroup(3)", None, None),
        ("[SymmetricGroup(3)]", None, None),
        // serve's former GAP-side encoder stopped at 64 levels (no `json`),
        // though its protocol promises lists of lists
        (
            &nested_100,
            Some(nested_100_json.clone()),
            Some(nested_100_json),
        ),
    ]
    .into_iter()
    .map(|(code, exact, portable)| (code.to_string(), exact, portable))
    .collect();
    with_gap(move |gap| {
        for (code, exact, portable) in &cases {
            let v = gap.eval_value(code).unwrap();
            assert_eq!(&v.to_exact_json().ok(), exact, "exact form of {code}");
            assert_eq!(&v.to_json().ok(), portable, "portable form of {code}");
            if let Some(j) = exact {
                // the exact form converts back to an equal object
                assert!(
                    gap.value(j).unwrap().equals(&v).unwrap(),
                    "{code} round trip"
                );
            }
        }
        let l = gap.eval_value("l := [1];; l[2] := l;; l").unwrap();
        assert!(l.to_exact_json().is_err());
    });
}

#[test]
fn calls_and_operations() {
    with_gap(|gap| {
        assert_eq!(gap.call_fn::<i64>("Factorial", (10,)).unwrap(), 3628800);
        let g = gap.call_fn::<GapObj>("SymmetricGroup", (4,)).unwrap();
        assert_eq!(
            gap.call_fn::<BigInt>("Size", (&g,)).unwrap(),
            BigInt::from(24)
        );
        assert_eq!(
            gap.call_fn::<Vec<i64>>("Reversed", (vec![1, 2, 3],))
                .unwrap(),
            [3, 2, 1]
        );
        assert_eq!(gap.call_fn::<i64>("Maximum", (1, 9, 4)).unwrap(), 9);
        // a function that returns nothing
        gap.call_fn::<()>("Unbind", (gap.value(&vec![1]).unwrap(),))
            .ok();
        assert!(gap
            .call_fn::<i64>(
                "SetInfoLevel",
                (gap.global("InfoWarning").unwrap().unwrap(), 1)
            )
            .is_err());
        assert!(matches!(
            gap.function("NoSuchFunctionAnywhere"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            gap.function("Rationals"),
            Err(Error::InvalidArgument(_))
        ));

        let a = gap.value(&7).unwrap();
        assert_eq!((&a + 1).unwrap().extract::<i64>().unwrap(), 8);
        assert_eq!((&a - 10).unwrap().extract::<i64>().unwrap(), -3);
        assert_eq!((&a * &a).unwrap().extract::<i64>().unwrap(), 49);
        assert_eq!((&a / 2).unwrap().to_string(), "7/2");
        assert_eq!(a.pow(30).unwrap().to_string(), "22539340290692258087863249");
        assert_eq!(a.modulo(4).unwrap().extract::<i64>().unwrap(), 3);
        assert!(a.equals(7).unwrap() && !a.equals(8).unwrap());
        assert!(a.less_than(8).unwrap());
        assert!(a.is_in(vec![1, 7]).unwrap());
        assert!(g.contains(gap.eval_value("(1,2)").unwrap()).unwrap());
        assert!(!g.contains(gap.eval_value("(1,5)").unwrap()).unwrap());
        assert!(gap
            .eval_value("(1,2,3)")
            .unwrap()
            .comm(gap.eval_value("(1,2)").unwrap())
            .is_ok());
    });
}

#[test]
fn errors_leave_gap_usable() {
    with_gap(|gap| {
        let a = gap.value(&1).unwrap();
        let e = a.div(0).unwrap_err();
        match &e {
            Error::Gap(g) => assert!(g.message.contains("must not be zero"), "{g:?}"),
            other => panic!("unexpected {other:?}"),
        }
        // the handle used in the failed call still works
        assert_eq!(a.add(1).unwrap().extract::<i64>().unwrap(), 2);
        let e = gap.call_fn::<GapObj>("Size", (1,)).unwrap_err();
        assert!(matches!(e, Error::Gap(_)), "{e:?}");
        let e = gap
            .eval_value("f := function() return 1/0; end;; f();")
            .unwrap_err();
        assert!(matches!(e, Error::Gap(_)));
        let e = gap.value(&1).unwrap().add(true).unwrap_err();
        assert!(
            e.to_string().contains("no method") || e.to_string().contains("Error"),
            "{e}"
        );
        assert_eq!(gap.eval_as::<i64>("2+2").unwrap(), 4);
    });
}

#[test]
fn deadline_interrupts_and_gap_goes_on() {
    with_gap(|gap| {
        let t = Instant::now();
        let r = gap.with_deadline(Duration::from_millis(200), |gap| {
            gap.eval_value("while true do od;")
        });
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert_eq!(gap.eval_as::<i64>("1+1").unwrap(), 2);
        // a call that finishes in time is not disturbed, now or later
        let v = gap
            .with_deadline(Duration::from_secs(5), |gap| {
                gap.eval_as::<i64>("Factorial(5)")
            })
            .unwrap();
        assert_eq!(v, 120);
        // a deadline that expires after the work ended leaves nothing behind
        let _ = gap.with_deadline(Duration::from_millis(1), |gap| gap.eval_as::<i64>("1"));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(gap.eval_as::<i64>("3+3").unwrap(), 6);
        // interrupting a library call
        let r = gap.with_deadline(Duration::from_millis(100), |gap| {
            gap.call_fn::<GapObj>(
                "Filtered",
                (1..=(1i64 << 40), gap.eval_value("x -> false").unwrap()),
            )
        });
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        assert_eq!(gap.eval_as::<i64>("1+1").unwrap(), 2);
    });
}

#[test]
fn interrupt_handle_from_another_thread() {
    let handle = with_gap(|gap| gap.interrupt_handle().unwrap());
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        handle.interrupt().unwrap();
    });
    let r = with_gap(|gap| {
        let r = gap.eval_value("while true do od;").map(|_| ());
        (
            r.map_err(|e| e.to_string()),
            gap.eval_as::<i64>("1+1").unwrap(),
        )
    });
    sender.join().unwrap();
    assert_eq!(r, (Err("interrupted".to_string()), 2));
}

#[test]
fn clones_share_one_root() {
    with_gap(|gap| {
        let start = gaprun::obj::rooted_count();
        let original = gap.eval_value("[1, 2, 3]").unwrap();
        let clones: Vec<GapObj> = (0..1000).map(|_| original.clone()).collect();
        assert_eq!(gaprun::obj::rooted_count(), start + 1);
        drop(original);
        assert_eq!(gaprun::obj::rooted_count(), start + 1, "the clones keep it");
        drop(clones);
        assert_eq!(gaprun::obj::rooted_count(), start);
    });
}

#[test]
fn an_object_held_only_by_a_clone_survives_collection() {
    with_gap(|gap| {
        // Built from Rust: nothing in GAP refers to it.
        let words: Vec<String> = (0..2000).map(|i| format!("word{i}")).collect();
        let original = gap.value(&words).unwrap();
        let clone = original.clone();
        drop(original);
        gap.eval("GASMAN(\"collect\");").unwrap();
        // reuse the memory a wrongly freed list would have left
        for _ in 0..5 {
            gap.eval_value("List([1..20000], i -> String(i))").unwrap();
            gap.eval("GASMAN(\"collect\");").unwrap();
        }
        assert_eq!(clone.extract::<Vec<String>>().unwrap(), words);
    });
}

#[test]
fn root_table_under_forced_collections() {
    with_gap(|gap| {
        gap.collect(true).unwrap();
        let baseline = gaprun::obj::rooted_count();
        // values held across collections stay intact
        let kept: Vec<GapObj> = (0..1000)
            .map(|i| {
                gap.eval_value(&format!("[{i}, \"s{i}\", 2^{}]", 70 + i % 5))
                    .unwrap()
            })
            .collect();
        let big = gap.value(&(BigInt::from(1) << 1000)).unwrap();
        for round in 0..20 {
            for i in 0..100_000i64 {
                let o = gap.value(&(i + (1 << 62))).unwrap(); // a large integer: allocates
                let c = o.clone();
                drop(o);
                drop(c);
            }
            gap.collect(round % 2 == 0).unwrap();
        }
        assert_eq!(gaprun::obj::rooted_count(), baseline + kept.len() + 1);
        for (i, k) in kept.iter().enumerate() {
            assert_eq!(
                k.get(2).unwrap().unwrap().extract::<String>().unwrap(),
                format!("s{i}")
            );
            assert_eq!(
                k.get(3).unwrap().unwrap().extract::<BigInt>().unwrap(),
                BigInt::from(1) << (70 + i % 5)
            );
        }
        assert_eq!(big.extract::<BigInt>().unwrap(), BigInt::from(1) << 1000);
        drop(kept);
        drop(big);
        assert_eq!(gaprun::obj::rooted_count(), baseline);
        let stats = gap.memory_stats().unwrap();
        assert!(
            stats.pool_bytes > 0 && stats.allocated_total > 0,
            "{stats:?}"
        );
        assert!(stats.live_bytes > 0, "{stats:?}");
    });
}

fn bigint_strategy() -> impl Strategy<Value = BigInt> {
    (
        any::<bool>(),
        proptest::collection::vec(any::<u32>(), 0..40),
    )
        .prop_map(|(neg, digits)| {
            let m = num_bigint::BigUint::new(digits);
            BigInt::from_biguint(
                if neg {
                    num_bigint::Sign::Minus
                } else {
                    num_bigint::Sign::Plus
                },
                m,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn prop_bigint_round_trip(v in bigint_strategy()) {
        let (back, text) = with_gap(move |gap| {
            let o = gap.value(&v).unwrap();
            (o.extract::<BigInt>().unwrap() == v, o.to_string() == v.to_string())
        });
        prop_assert!(back && text);
    }

    #[test]
    fn prop_i128_round_trip(v in any::<i128>()) {
        let ok = with_gap(move |gap| {
            let o = gap.value(&v).unwrap();
            o.extract::<i128>().unwrap() == v && o.to_string() == v.to_string()
        });
        prop_assert!(ok);
    }

    #[test]
    fn prop_lists_round_trip(v in proptest::collection::vec(any::<i64>(), 0..200), s in proptest::collection::vec(".*", 0..10)) {
        let ok = with_gap(move |gap| {
            let o = gap.value(&v).unwrap();
            let ints = o.extract::<Vec<i64>>().unwrap() == v;
            let sum_ok = gap.call_fn::<BigInt>("Sum", (&o, 0)).unwrap() == v.iter().map(|&x| BigInt::from(x)).sum::<BigInt>();
            let so = gap.value(&s).unwrap();
            ints && sum_ok && so.extract::<Vec<String>>().unwrap() == s
        });
        prop_assert!(ok);
    }
}
