//! The foundation's library API against real GAP: evaluation, output,
//! errors (and recovery), globals, calls, packages.

mod common;
use common::with_gap;
use gaprun::Error;

#[test]
fn size_of_symmetric_group() {
    let (view, output) = with_gap(|gap| {
        let st = gap.eval("Size(SymmetricGroup(7));").unwrap();
        assert_eq!(st.len(), 1);
        (st[0].view.clone(), st[0].output.clone())
    });
    assert_eq!(view.as_deref(), Some("5040"));
    assert_eq!(output, "");
}

#[test]
fn several_statements_keep_output_and_values_apart() {
    let got = with_gap(|gap| {
        gap.eval("x := 6;; Print(\"x is \", x, \"\\n\"); x * 7; [1..3];")
            .unwrap()
            .into_iter()
            .map(|s| (s.output, s.view, s.suppressed, s.value.is_some()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        got,
        vec![
            ("".to_string(), None, true, true),
            ("x is 6\n".to_string(), None, false, false),
            ("".to_string(), Some("42".to_string()), false, true),
            ("".to_string(), Some("[ 1 .. 3 ]".to_string()), false, true),
        ]
    );
}

#[test]
fn runtime_error_carries_gaps_message_and_gap_goes_on() {
    let (errors, after) = with_gap(|gap| {
        let st = gap.eval("1/0; 2+2;").unwrap();
        let errors: Vec<_> = st.iter().map(|s| s.error.clone()).collect();
        let after = gap.eval("Size(AlternatingGroup(5));").unwrap()[0]
            .view
            .clone();
        (errors, after)
    });
    let e = errors[0].as_ref().expect("1/0 fails");
    assert_eq!(e.message, "Rational operations: <divisor> must not be zero");
    assert!(
        e.text.starts_with("Error, Rational operations"),
        "{}",
        e.text
    );
    assert!(errors[1].is_none());
    assert_eq!(after.as_deref(), Some("60"));
}

#[test]
fn syntax_error_is_reported_and_gap_goes_on() {
    let (err, after) = with_gap(|gap| {
        let err = gap.eval_value("x := ;").unwrap_err();
        let after = gap.eval_value("3 * 5").map(|v| v.to_string());
        (err.to_string(), after.unwrap())
    });
    assert!(err.contains("Syntax error"), "{err}");
    assert_eq!(after, "15");
}

#[test]
fn unbound_variable_is_an_error_value() {
    let err = with_gap(|gap| match gap.eval_value("this_is_not_bound_anywhere;") {
        Err(Error::Gap(e)) => e.message,
        other => panic!("expected a GAP error, got {other:?}"),
    });
    assert_eq!(
        err,
        "Variable: 'this_is_not_bound_anywhere' must have a value"
    );
}

#[test]
fn globals_and_calls() {
    let (got, missing, readonly) = with_gap(|gap| {
        let v = gap.eval_value("[5, 3, 9, 1]").unwrap();
        gap.set_global("gaprun_test_list", &v).unwrap();
        let sort = gap.global("SortedList").unwrap().unwrap();
        let sorted = gap.call(&sort, &[&v]).unwrap().unwrap();
        let missing = gap.global("gaprun_surely_unbound").unwrap().is_none();
        let readonly = gap.set_global("Size", &v).is_err();
        let back = gap.eval_value("gaprun_test_list[3];").unwrap().to_string();
        (format!("{sorted} {back}"), missing, readonly)
    });
    assert_eq!(got, "[ 1, 3, 5, 9 ] 9");
    assert!(missing);
    assert!(readonly, "assigning a read-only global must fail");
}

#[test]
fn io_package_loads_its_compiled_part() {
    let (loaded, pid_ok) = with_gap(|gap| {
        let loaded = gap.load_package("io").unwrap();
        let pid = gap.eval_value("IO_getpid()").unwrap().to_string();
        (loaded, pid == std::process::id().to_string())
    });
    assert!(loaded, "LoadPackage(\"io\") must return true");
    assert!(
        pid_ok,
        "IO_getpid (compiled C in io.so) must answer this process"
    );
}

#[test]
fn missing_package_is_false_not_a_crash() {
    let loaded = with_gap(|gap| gap.load_package("no_such_package_xyz").unwrap());
    assert!(!loaded);
}

#[test]
fn second_init_with_other_options_is_refused() {
    let msg = with_gap(|_gap| {
        let other = gaprun::GapOptions {
            autoload: true,
            ..common::test_options()
        };
        match gaprun::Gap::init(other) {
            Err(e) => e.to_string(),
            Ok(_) => "accepted".to_string(),
        }
    });
    assert!(msg.contains("already initialised"), "{msg}");
    // From another thread even the same options are refused.
    let err = std::thread::spawn(|| {
        gaprun::Gap::init(common::test_options())
            .err()
            .map(|e| e.to_string())
    })
    .join()
    .unwrap();
    assert!(err.is_some_and(|e| e.contains("another thread")));
}

#[test]
fn pool_hook_sees_gaps_pool() {
    let stats = with_gap(|gap| gap.pool_stats());
    if gaprun::runtime::pool_hook_available() {
        assert!(stats.hooked);
        assert!(stats.mappings >= 1, "GAP maps its pool at start-up");
        assert!(stats.bytes >= 16 << 20);
    }
}

#[test]
fn quit_gap_is_a_status_with_its_exit_code_and_gap_goes_on() {
    with_gap(|gap| {
        let e = gap.eval_value("QuitGap(3);").unwrap_err();
        assert!(matches!(e, Error::Quit { code: 3 }), "{e:?}");
        // GAP's quit flag was reset: the next evaluation runs every statement
        let st = gap.eval("1; 2;").unwrap();
        assert_eq!(st.len(), 2, "{st:?}");
        let quit_gap = gap.global("QUIT_GAP").unwrap().unwrap();
        let five = gap.eval_value("5").unwrap();
        let e = gap.call(&quit_gap, &[&five]).unwrap_err();
        assert!(matches!(e, Error::Quit { code: 5 }), "{e:?}");
        assert_eq!(gap.eval_as::<i64>("1+1").unwrap(), 2);
        // per statement: QUIT-like quits carry the code, `quit;` does not
        let st = gap.eval("1; QuitGap(4); 2;").unwrap();
        assert_eq!(st.len(), 2, "{st:?}");
        assert!(st[1].quit && st[1].quit_code == Some(4), "{st:?}");
        assert!(matches!(st[1].failure(), Some(Error::Quit { code: 4 })));
        let st = gap.eval("quit; 2;").unwrap();
        assert_eq!(st.len(), 1, "{st:?}");
        assert!(st[0].quit && st[0].quit_code.is_none(), "{st:?}");
        assert_eq!(gap.eval_as::<i64>("3+3").unwrap(), 6);
    });
}

#[test]
fn an_error_saying_user_interrupt_is_not_an_interrupt() {
    with_gap(|gap| {
        let e = gap.eval_value("Error(\"user interrupt\");").unwrap_err();
        assert!(matches!(e, Error::Gap(_)), "{e:?}");
        let error = gap.global("Error").unwrap().unwrap();
        let msg = gap.string("user interrupt").unwrap();
        let e = gap.call(&error, &[&msg]).unwrap_err();
        assert!(matches!(e, Error::Gap(_)), "{e:?}");
        let st = gap.eval("Error(\"user interrupt\");").unwrap();
        assert!(!st[0].interrupted && st[0].error.is_some(), "{st:?}");
    });
}

#[test]
fn set_error_capture_on_a_read_only_error_output_is_an_error() {
    with_gap(|gap| {
        gap.eval_value("MakeReadOnlyGlobal(\"ERROR_OUTPUT\"); 0;")
            .unwrap();
        let r = gap.set_error_capture(true);
        gap.eval_value("MakeReadWriteGlobal(\"ERROR_OUTPUT\"); 0;")
            .unwrap();
        assert!(matches!(r, Err(Error::Gap(_))), "{r:?}");
        // the process survived and GAP goes on
        gap.set_error_capture(true).unwrap();
        assert_eq!(gap.eval_as::<i64>("2+2").unwrap(), 4);
        let e = gap.eval_value("1/0;").unwrap_err();
        assert!(e.to_string().contains("must not be zero"), "{e}");
    });
}

#[test]
fn hostile_on_break_message_leaves_gaps_input_and_output_sane() {
    with_gap(|gap| {
        gap.eval_value("_saved_obm := OnBreakMessage;; 0;").unwrap();
        gap.eval_value("OnBreakMessage := function() Error(\"hostile\"); end;; 0;")
            .unwrap();
        let mode = gaprun::LoopMode {
            echo: true,
            stop_on_error: false,
            break_output: true,
        };
        // More runs than GAP has input slots: an input left open by each
        // would soon make every later read fail.
        let mut reports = Vec::new();
        for _ in 0..40 {
            reports.push(
                gap.run_string("Error(\"a\"); Error(\"b\"); quit; 1;", mode)
                    .map_err(|e| e.to_string()),
            );
        }
        gap.eval_value("OnBreakMessage := _saved_obm;; 0;").unwrap();
        for r in &reports {
            let r = r.as_ref().unwrap();
            assert_eq!((r.statements, r.errors), (4, 2), "{r:?}");
        }
        let st = gap.eval("Print(\"x\"); 2;").unwrap();
        assert_eq!(st.len(), 2, "{st:?}");
        assert_eq!(st[0].output, "x");
    });
}

#[test]
fn error_message_is_whole_not_cut_at_gaps_line_width() {
    let long = "x".repeat(150);
    let (message, shown, call_message) = with_gap(move |gap| {
        let e = gap.eval_value(&format!("Error(\"{long}\");")).unwrap_err();
        let Error::Gap(g) = &e else { panic!("{e:?}") };
        let error = gap.global("Error").unwrap().unwrap();
        let arg = gap.string(&format!("{long} and more")).unwrap();
        let Err(Error::Gap(c)) = gap.call(&error, &[&arg]) else {
            panic!("no error")
        };
        (g.message.clone(), e.to_string(), c.message)
    });
    let long = "x".repeat(150);
    assert_eq!(message, long);
    assert!(shown.contains(&long), "{shown}");
    assert_eq!(call_message, format!("{long} and more"));
}

#[test]
fn multi_line_message_is_kept_whole() {
    let message = with_gap(|gap| match gap.eval_value("Error(\"first\\nsecond\");") {
        Err(Error::Gap(g)) => g.message,
        other => panic!("{other:?}"),
    });
    assert_eq!(message, "first\nsecond");
}

/// GAP keeps the argv it was started with (`KERNEL_INFO().COMMAND_LINE`
/// reads it long after start-up): it must still be there. It was freed
/// after `GAP_Initialize`, and reading it crashed the process.
#[test]
fn kernel_info_command_line_is_the_start_argv() {
    let (line, argv) = with_gap(|gap| {
        // Allocate and collect first, so freed argv memory would be reused.
        gap.eval("List([1..20000], i -> String(i));; GASMAN(\"collect\");")
            .unwrap();
        let line: Vec<String> = gap.eval_as("KERNEL_INFO().COMMAND_LINE").unwrap();
        (line, common::test_options().argv())
    });
    assert_eq!(line, argv);
}
