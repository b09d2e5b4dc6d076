//! Builds the web assets the gateway serves (`src/http/assets.rs`): the live console from
//! `clients/console` and the browser bundle of the JS client from `clients/js`, with
//! `node clients/console/build.mjs $OUT_DIR/web` (esbuild). Installs the console's npm
//! dependencies with `npm ci` first when `clients/console/node_modules` is missing.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest.join("..").join("..");
    let console = root.join("clients").join("console");
    let client = root.join("clients").join("js");
    for input in [
        client.join("src"),
        console.join("src"),
        console.join("index.html"),
        console.join("build.mjs"),
        console.join("package.json"),
        console.join("package-lock.json"),
    ] {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    // A fresh checkout has no node_modules; once installed, package-lock.json above tells
    // when to reinstall (`npm ci` after pulling a change to it).
    println!(
        "cargo:rerun-if-changed={}",
        console
            .join("node_modules")
            .join(".package-lock.json")
            .display()
    );

    if !client.join("src").join("index.js").is_file() {
        fail(&format!(
            "the JS client's entry {} is missing: the console bundles it",
            client.join("src").join("index.js").display()
        ));
    }
    if !console.join("node_modules").join("esbuild").is_dir() {
        run(
            Command::new("npm")
                .arg("ci")
                .arg("--no-audit")
                .arg("--no-fund")
                .current_dir(&console),
            &format!("cd {} && npm ci", console.display()),
        );
    }
    let out = PathBuf::from(env("OUT_DIR")).join("web");
    run(
        Command::new("node")
            .arg(console.join("build.mjs"))
            .arg(&out)
            .current_dir(&console),
        &format!(
            "node {} {}",
            console.join("build.mjs").display(),
            out.display()
        ),
    );
    for file in ["index.html", "console.js", "console.css", "voicetk.js"] {
        if !out.join(file).is_file() {
            fail(&format!(
                "node clients/console/build.mjs did not produce {}",
                out.join(file).display()
            ));
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

/// Runs `cmd`; on failure stops the build with the command a developer can run to see why.
fn run(cmd: &mut Command, shown: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!("`{shown}` failed ({s}); run it to see why")),
        Err(e) => fail(&format!(
            "cannot run `{shown}`: {e}. The gateway embeds the web console, built with Node.js \
             (>= 20) and npm: install them (Debian: `apt-get install nodejs npm`), then run \
             `npm ci` in clients/console (scripts/setup does both)"
        )),
    }
}

fn fail(message: &str) -> ! {
    // A build script reports through a panic: cargo shows its message.
    panic!("voicetk-server build: {message}")
}
