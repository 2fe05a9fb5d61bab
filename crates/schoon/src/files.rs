//! Expanding the PATH arguments of `hash` and `match` into a list of files.

use std::path::{Path, PathBuf};

/// Files named on the command line, with directories walked recursively in a stable (sorted) order.
///
/// Paths that cannot be read are returned as errors in order, so the caller can report them
/// next to the files that did hash.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out);
        } else if path.exists() {
            out.push(Ok(path.clone()));
        } else {
            out.push(Err((path.clone(), "no such file or directory".into())));
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Result<PathBuf, (PathBuf, String)>>) {
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_file() => out.push(Ok(e.into_path())),
            Ok(_) => {}
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf());
                out.push(Err((path, err.to_string())));
            }
        }
    }
}
