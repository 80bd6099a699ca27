//! `--input-file`: seed lists read from a file or standard input, parsed by
//! [`semcrawl_core::seeds`].

use std::io::Read;

use semcrawl_core::seeds::parse_seed_list;
use url::Url;

/// Read the seed list at `path` (`-` is standard input).
pub fn read_seed_file(path: &str) -> Result<Vec<Url>, String> {
    let (name, text) = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read --input-file from standard input: {e}"))?;
        ("stdin".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --input-file '{path}': {e}"))?;
        (path.to_owned(), text)
    };
    let seeds = parse_seed_list(&name, &text)?;
    if seeds.is_empty() {
        return Err(format!("--input-file '{name}' lists no URL"));
    }
    Ok(seeds)
}
