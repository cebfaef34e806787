//! The file watcher on real files. Every wait is for an observable result (a file's new text
//! becoming searchable), never for a length of time.

mod support;

use std::fs;

use support::{defined_in, wait_until, write, Fixture};

#[test]
fn the_watcher_picks_up_files_written_on_disk() {
    let fx = Fixture::new(&[("a.py", "def a():\n    pass\n")]);
    let index = fx.watching();
    write(&fx.root.join("new_module.py"), "def written_outside_the_editor():\n    pass\n");
    wait_until("the new file to be indexed", || !defined_in(&index, "written_outside_the_editor").is_empty());
    fs::remove_file(fx.root.join("new_module.py")).expect("rm");
    wait_until("the deleted file to be dropped", || defined_in(&index, "written_outside_the_editor").is_empty());
}
