//! The editor's unsaved text in the index: searchable while the editor holds it, gone once the
//! editor lets go (a refresh from disk, or the next session's sync).

mod support;

use support::{defined_in, touch, wait_until, write, Fixture};

const DISK: &str = "def saved_on_disk():\n    pass\n";
const UNSAVED: &str = "def saved_on_disk():\n    pass\n\n\ndef typed_but_never_saved():\n    pass\n";

/// Issue 10, item 5: the editor's text was stamped with the disk file's (mtime, size), so the
/// refresh on close took the index for up to date and kept the discarded text.
#[test]
fn unsaved_text_is_dropped_when_the_file_is_refreshed_from_disk() {
    let fx = Fixture::new(&[("pkg/a.py", DISK)]);
    let (index, _) = fx.synced();
    let file = fx.root.join("pkg/a.py");
    index.update_text(&file, UNSAVED).expect("update");
    assert_eq!(defined_in(&index, "typed_but_never_saved"), ["pkg/a.py"]);

    index.refresh_from_disk(&file).expect("refresh");
    assert!(defined_in(&index, "typed_but_never_saved").is_empty());
    assert_eq!(defined_in(&index, "saved_on_disk"), ["pkg/a.py"]);
}

/// Issue 10, item 5: the next session's sync compared the same stamps and kept the text too.
#[test]
fn unsaved_text_does_not_survive_reopening_the_index() {
    let fx = Fixture::new(&[("pkg/a.py", DISK), ("pkg/b.py", "def other():\n    pass\n")]);
    let (index, _) = fx.synced();
    index.update_text(&fx.root.join("pkg/a.py"), UNSAVED).expect("update");
    assert_eq!(defined_in(&index, "typed_but_never_saved"), ["pkg/a.py"]);
    drop(index); // the editor went away without closing the file

    let (index, report) = fx.synced();
    assert!(defined_in(&index, "typed_but_never_saved").is_empty());
    assert_eq!(defined_in(&index, "saved_on_disk"), ["pkg/a.py"]);
    assert_eq!((report.files_indexed, report.files_unchanged), (1, 1), "only the edited file is read: {report:?}");
}

#[test]
fn the_editors_text_stays_indexed_while_the_watcher_sees_its_folder_change() {
    let fx = Fixture::new(&[("pkg/a.py", DISK)]);
    let index = fx.watching();
    let file = fx.root.join("pkg/a.py");
    index.update_text(&file, UNSAVED).expect("update");
    touch(&fx.root.join("pkg"));
    write(&fx.root.join("pkg/b.py"), "def written_after_the_edit():\n    pass\n");
    wait_until("the new file to be searchable", || defined_in(&index, "written_after_the_edit") == ["pkg/b.py"]);
    assert_eq!(defined_in(&index, "typed_but_never_saved"), ["pkg/a.py"], "the editor's text is the input");

    index.refresh_from_disk(&file).expect("refresh (the editor closed it)");
    assert!(defined_in(&index, "typed_but_never_saved").is_empty());
    assert_eq!(index.status().files, 2);
}

/// The index cuts a document the editor keeps changing from its last syntax tree: each new
/// text must still be indexed exactly, whatever the edit, and after the editor lets go.
#[test]
fn a_document_changed_again_and_again_is_indexed_as_its_latest_text() {
    let disk = "pub fn first_name() -> u32 {\n    1\n}\n\npub struct Holder {\n    a: u32,\n}\n";
    let fx = Fixture::new(&[("src/lib.rs", disk)]);
    let (index, _) = fx.synced();
    let file = fx.root.join("src/lib.rs");
    let texts = [
        disk.replace("first_name", "second_name"),
        disk.replace("first_name", "second_name")
            .replace("pub struct Holder", "pub fn third_name() {}\n\npub struct Holder"),
        // A brace left open swallows the rest of the file, then is closed again.
        disk.replace("    1\n}", "    {\n"),
        disk.replace("first_name", "fourth_name"),
    ];
    let expected =
        [["second_name", "Holder"], ["third_name", "Holder"], ["first_name", "first_name"], ["fourth_name", "Holder"]];
    for (text, names) in texts.iter().zip(expected) {
        index.update_text(&file, text).expect("update");
        for name in names {
            assert_eq!(defined_in(&index, name), ["src/lib.rs"], "{name} in {text}");
        }
    }
    assert!(defined_in(&index, "second_name").is_empty());
    assert!(defined_in(&index, "third_name").is_empty());

    index.refresh_from_disk(&file).expect("refresh");
    assert_eq!(defined_in(&index, "first_name"), ["src/lib.rs"]);
    index.update_text(&file, &disk.replace("first_name", "fifth_name")).expect("update");
    assert_eq!(defined_in(&index, "fifth_name"), ["src/lib.rs"]);
    assert!(defined_in(&index, "first_name").is_empty());
}
