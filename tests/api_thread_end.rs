//! An `InterruptHandle` that outlives the thread that ran GAP does nothing
//! (its thread id may belong to another thread by then). Its own binary:
//! GAP's thread must end here.

use gaprun::{Gap, GapOptions};

#[test]
fn interrupt_handle_outliving_its_gap_thread_is_inert() {
    let handle = std::thread::spawn(|| {
        let gap = Gap::init(GapOptions {
            autoload: false,
            ..GapOptions::default()
        })
        .expect("GAP starts");
        gap.interrupt_handle().unwrap()
    })
    .join()
    .unwrap();
    // the GAP thread has ended: no signal goes anywhere, and no error
    handle.interrupt().unwrap();
    // a new thread (which may reuse the id) is not disturbed
    let t = std::thread::spawn(move || {
        handle.interrupt().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        42
    });
    assert_eq!(t.join().unwrap(), 42);
}
