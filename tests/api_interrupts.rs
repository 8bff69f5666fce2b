//! Interrupts against real GAP: requests that arrive while GAP is idle,
//! nested deadlines, handles crossing a fork. Its own binary, and one test
//! at a time (SERIAL): a stray interrupt from one test would hit another
//! test's computation on the shared GAP thread.
mod common;

use common::with_gap;
use gaprun::Error;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn interrupt_sent_while_gap_is_idle_does_not_fail_the_next_call() {
    let _serial = serial();
    let handle = with_gap(|gap| gap.interrupt_handle().unwrap());
    // GAP's thread waits for work: the signal reaches it while it is idle
    handle.interrupt().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let r = with_gap(|gap| {
        gap.eval_as::<i64>("Sum([1..100])")
            .map_err(|e| e.to_string())
    });
    assert_eq!(r, Ok(5050));
}

#[test]
fn nested_deadlines_keep_the_outer_one() {
    let _serial = serial();
    with_gap(|gap| {
        // an inner deadline that ends first must not cancel the outer one
        let t = Instant::now();
        let r = gap.with_deadline(Duration::from_millis(300), |gap| {
            let quick = gap.with_deadline(Duration::from_secs(60), |gap| {
                gap.eval_as::<i64>("1+1")
            })?;
            assert_eq!(quick, 2);
            // bounded so that a broken outer deadline fails instead of hanging
            gap.eval_value("t := NanosecondsSinceEpoch();; while NanosecondsSinceEpoch() - t < 30 * 10^9 do od; 0;")
        });
        assert!(matches!(r, Err(Error::Interrupted)), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(25), "{:?}", t.elapsed());
        // an inner deadline that fires leaves the outer scope usable
        let r = gap.with_deadline(Duration::from_secs(60), |gap| {
            let inner = gap.with_deadline(Duration::from_millis(100), |gap| {
                gap.eval_value("while true do od;")
            });
            assert!(matches!(inner, Err(Error::Interrupted)), "{inner:?}");
            gap.eval_as::<i64>("2+2")
        });
        assert_eq!(r.unwrap(), 4);
    });
}

#[test]
fn interrupt_handle_is_inert_in_a_forked_child() {
    let _serial = serial();
    let handle = with_gap(|gap| gap.interrupt_handle().unwrap());
    let busy = std::thread::spawn(|| {
        with_gap(|gap| {
            gap.eval_value("t := NanosecondsSinceEpoch();; while NanosecondsSinceEpoch() - t < 15 * 10^8 do od; 7;")
                .and_then(|v| v.extract::<i64>())
                .map_err(|e| e.to_string())
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: the child only calls getpid/an atomic load (inside
    // interrupt()) and _exit: nothing that needs locks other threads hold.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match handle.interrupt() {
            Ok(()) => 0,
            Err(_) => 1,
        };
        // SAFETY: leaving the child without running the parent's atexit.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // the parent's computation was not interrupted by the child
    assert_eq!(busy.join().unwrap(), Ok(7));
}
