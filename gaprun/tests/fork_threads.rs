//! Forking with a second thread alive is refused; a Ctrl-C held for GAP's
//! next statement stops a batch. Runs without libtest's harness
//! (`harness = false`): the harness's own threads would make every fork
//! refused, and GAP must live on the main thread that forks.

use gaprun::fork::{thread_count, ForkOptions, ForkPool, Task, TaskKind, TaskOutcome};
use gaprun::{Error, Gap, GapOptions};

fn main() {
    let gap = Gap::init(GapOptions {
        autoload: false,
        ..GapOptions::default()
    })
    .expect("GAP starts");
    let pool = ForkPool::new(
        gap,
        ForkOptions {
            jobs: 2,
            ..ForkOptions::default()
        },
    );
    let tasks = vec![Task::new(TaskKind::Code("1 + 1;".into())); 3];

    assert_eq!(thread_count().unwrap(), 1);
    let results = pool.run(&tasks).expect("forks while alone");
    assert!(results.iter().all(|r| r.outcome == TaskOutcome::Ok));
    assert!(results.iter().all(|r| r.view.as_deref() == Some(&b"2"[..])));

    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let helper = std::thread::spawn(move || {
        let _ = stop_rx.recv();
    });
    match pool.run(&tasks) {
        Err(Error::MultipleThreads(n)) => assert!(n >= 2),
        other => panic!("expected a refusal, got {other:?}"),
    }
    stop_tx.send(()).unwrap();
    helper.join().unwrap();

    // Alone again: forking works again, and the parent's GAP is intact.
    let results = pool.run(&tasks).expect("forks again once alone");
    assert_eq!(results.len(), 3);
    assert_eq!(gap.view(&gap.eval_value("2^5;").unwrap()).unwrap(), "32");

    // Regression: a Ctrl-C that reached the command line's handler before
    // a batch (GAP idle: it holds it for the next statement) was inherited
    // by every worker, whose first statement then failed with "user
    // interrupt". It stops the batch, as a Ctrl-C during it does.
    gaprun::interrupt::install_sigint_handler().unwrap();
    // SAFETY: raise sends SIGINT to this (the GAP) thread; the handler
    // only sets GAP's interrupt table.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
    match pool.run(&tasks) {
        Err(Error::Interrupted) => {}
        other => panic!("expected the batch stopped, got {other:?}"),
    }
    assert_eq!(gaprun::fork::stop_signal(), Some(libc::SIGINT));
    // The Ctrl-C was used up: the next batch and the parent's GAP run.
    let results = pool.run(&tasks).expect("a batch after the stopped one");
    assert!(results.iter().all(|r| r.outcome == TaskOutcome::Ok));
    assert_eq!(gap.view(&gap.eval_value("2^6;").unwrap()).unwrap(), "64");
    println!("fork_threads: ok (refused with a second thread, fine without; a held Ctrl-C stops a batch)");
}
