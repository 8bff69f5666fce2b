//! A start that failed after GAP was initialised (here: a requested package
//! that does not exist) is remembered: a later `Gap::init` in the process
//! fails too, instead of handing out the GAP the failed start left behind.
//! Own binary: GAP starts once per process.

use gaprun::{Error, Gap, GapOptions};

#[test]
fn a_failed_start_fails_every_later_init() {
    let options = GapOptions {
        autoload: false,
        packages: vec!["no_such_package_gaprun".into()],
        ..GapOptions::default()
    };
    match Gap::init(options.clone()) {
        Err(Error::Setup(msg)) => assert!(msg.contains("no_such_package_gaprun"), "{msg}"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("a start whose package failed to load was handed out"),
    }
    match Gap::init(options) {
        Err(Error::Setup(msg)) => {
            assert!(msg.contains("failed to start earlier"), "{msg}");
            assert!(msg.contains("no_such_package_gaprun"), "{msg}");
        }
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => panic!("the second Gap::init handed out the GAP of a failed start"),
    }
}
