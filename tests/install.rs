// SPDX-License-Identifier: MIT OR Apache-2.0

//! `scripts/install.sh` (what `./dev install` runs after building) puts the
//! plugin where GStreamer finds it with no GST_PLUGIN_PATH, and removes it.
//! Run against a temporary HOME.

mod common;

use common::TempDir;
use std::path::Path;
use std::process::Command;

fn inspect(home: &Path) -> bool {
    Command::new("gst-inspect-1.0")
        .arg("mjpegsplit")
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("GST_PLUGIN_PATH")
        .env("GST_REGISTRY", home.join("registry.bin"))
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn install_and_uninstall_in_the_user_plugin_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = root.join("target/debug/libgstmjpegsplit.so");
    assert!(
        lib.exists(),
        "build the plugin first (cargo build --lib; ./dev test does)"
    );
    let home = TempDir::new("home");
    let script = |args: &[&str]| {
        let out = Command::new(root.join("scripts/install.sh"))
            .args(args)
            .env("HOME", &home.0)
            .env_remove("XDG_DATA_HOME")
            .env_remove("GST_PLUGIN_PATH")
            .env("GST_REGISTRY", home.0.join("registry.bin"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        text
    };
    assert!(!inspect(&home.0));
    let text = script(&[lib.to_str().unwrap()]);
    assert!(text.contains("gst-inspect-1.0 mjpegsplit: found"), "{text}");
    assert!(
        home.0
            .join(".local/share/gstreamer-1.0/plugins/libgstmjpegsplit.so")
            .exists()
    );
    assert!(inspect(&home.0));
    let text = script(&["--uninstall"]);
    assert!(text.contains("removed"), "{text}");
    assert!(!inspect(&home.0));
}
