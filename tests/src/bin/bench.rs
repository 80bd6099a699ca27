//! The benchmark harness (issue 4). Work in progress.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("bench: not implemented yet");
}
