//! The file watcher on real files: whatever path an event names, the index ends up holding what
//! the disk holds there. Every wait is for an observable result (a file's new text becoming
//! searchable), never for a length of time; the watcher applies each batch of events in one
//! commit, so once the last change is searchable every earlier event has been applied too.

mod support;

use std::fs;

use splice_retrieval::IndexOptions;
use support::{as_refs, defined_in, nested_package, read_everything, touch, wait_until, write, Fixture};

#[test]
fn the_watcher_picks_up_files_written_on_disk() {
    let fx = Fixture::new(&[("a.py", "def a():\n    pass\n")]);
    let index = fx.watching();
    write(&fx.root.join("new_module.py"), "def written_outside_the_editor():\n    pass\n");
    wait_until("the new file to be indexed", || !defined_in(&index, "written_outside_the_editor").is_empty());
    fs::remove_file(fx.root.join("new_module.py")).expect("rm");
    wait_until("the deleted file to be dropped", || defined_in(&index, "written_outside_the_editor").is_empty());
}

/// Issue 10, item 4: listing a folder, reading its files or touching it made the watcher drop
/// every file under it (an event for a directory was taken for its removal).
#[test]
fn nested_files_stay_indexed_when_their_folders_are_listed_touched_or_written_in() {
    let files = nested_package();
    let fx = Fixture::new(&as_refs(&files));
    let index = fx.watching();
    let all = files.len() as u64;
    assert_eq!(index.status().files, all);

    read_everything(&fx.root);
    touch(&fx.root.join("src/pkg/beta"));
    touch(&fx.root.join("src/pkg"));
    write(&fx.root.join("src/pkg/alpha/mod3.py"), "def rewritten_while_watched():\n    pass\n");
    wait_until("the rewritten file to be searchable", || {
        defined_in(&index, "rewritten_while_watched") == ["src/pkg/alpha/mod3.py"]
    });

    assert_eq!(index.status().files, all, "every file of the nested folders is still indexed");
    assert_eq!(defined_in(&index, "helper_beta_2"), ["src/pkg/beta/mod2.py"]);
    assert_eq!(defined_in(&index, "helper_gamma_7"), ["src/pkg/gamma/mod7.py"]);
}

#[test]
fn a_folder_created_moved_in_renamed_or_deleted_on_disk_is_followed() {
    let files = nested_package();
    let fx = Fixture::new(&as_refs(&files));
    let index = fx.watching();
    let all = files.len() as u64;

    // A folder with files moved into the workspace: no event names its files.
    let incoming = fx.tmp.path().join("incoming");
    write(&incoming.join("first.py"), "def arrived_with_its_folder():\n    pass\n");
    write(&incoming.join("deeper/second.py"), "def arrived_one_level_down():\n    pass\n");
    fs::rename(&incoming, fx.root.join("src/pkg/incoming")).expect("move in");
    // A folder created in place, its files written at once.
    write(&fx.root.join("src/pkg/fresh/made.py"), "def made_in_a_new_folder():\n    pass\n");
    fs::rename(fx.root.join("src/pkg/beta"), fx.root.join("src/pkg/renamed")).expect("rename");
    fs::remove_dir_all(fx.root.join("src/pkg/gamma")).expect("delete");
    write(&fx.root.join("setup.py"), "def setup_rewritten_last():\n    pass\n");
    wait_until("the last change to be searchable", || defined_in(&index, "setup_rewritten_last") == ["setup.py"]);

    assert_eq!(index.status().files, all + 3 - 8, "3 files came, gamma's 8 went");
    assert_eq!(defined_in(&index, "arrived_with_its_folder"), ["src/pkg/incoming/first.py"]);
    assert_eq!(defined_in(&index, "arrived_one_level_down"), ["src/pkg/incoming/deeper/second.py"]);
    assert_eq!(defined_in(&index, "made_in_a_new_folder"), ["src/pkg/fresh/made.py"]);
    assert_eq!(defined_in(&index, "helper_beta_2"), ["src/pkg/renamed/mod2.py"]);
    assert!(defined_in(&index, "helper_gamma_1").is_empty());
}

#[test]
fn ignored_folders_and_an_index_inside_the_root_stay_out_and_atomic_saves_are_followed() {
    let fx = Fixture::new(&[
        (".gitignore", "build/\n"),
        ("app.py", "def original_version():\n    pass\n"),
        ("pkg/util.py", "def util_helper():\n    pass\n"),
    ]);
    // The index lives inside the root: its own writes are events too.
    let index = fx.synced_with(IndexOptions { cache_dir: Some(fx.root.join("index-cache")), ..fx.options(true) });
    assert_eq!(index.status().files, 2);

    write(&fx.root.join("build/gen/out.py"), "def generated_and_ignored():\n    pass\n");
    touch(&fx.root.join("build"));
    touch(&fx.root.join("index-cache"));
    // An atomic save: the new text goes to a temporary file renamed over the old one.
    write(&fx.root.join("app.py.tmp"), "def saved_atomically():\n    pass\n");
    fs::rename(fx.root.join("app.py.tmp"), fx.root.join("app.py")).expect("rename over");
    write(&fx.root.join("pkg/.util.py.swp"), "def swap_file_of_an_editor():\n    pass\n");
    fs::rename(fx.root.join("pkg/.util.py.swp"), fx.root.join("pkg/util.py")).expect("rename over");
    wait_until("both atomic saves to be searchable", || {
        defined_in(&index, "saved_atomically") == ["app.py"]
            && defined_in(&index, "swap_file_of_an_editor") == ["pkg/util.py"]
    });

    assert!(defined_in(&index, "original_version").is_empty());
    assert!(defined_in(&index, "generated_and_ignored").is_empty());
    assert_eq!(index.status().files, 2, "nothing from build/ or the index's own folder");
}
