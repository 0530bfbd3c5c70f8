//! Fingerprints the migration sources so that the PostgreSQL template database used by the tests is
//! rebuilt whenever a migration changes (and reused, across test processes, while none does).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migration/src");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        hasher.update(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    let digest = hex::encode(hasher.finalize());
    println!("cargo:rustc-env=UPDOG_MIGRATIONS_DIGEST={}", &digest[..16]);
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
