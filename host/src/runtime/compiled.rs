//! Compiled components on disk, so that a restarted host does not compile them again.
//!
//! A file is named after the component's sha256 and a fingerprint of the engine's
//! configuration and version (`<hash>-<fingerprint>.cwasm`), so a host with another
//! configuration never loads it. Files are written to a temporary name and renamed, so a crash
//! never leaves a torn one; a file that does not load is removed and the component compiled
//! again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::ids::ComponentHash;

/// A directory of compiled components for one engine configuration.
#[derive(Clone, Debug)]
pub struct CompiledCache {
    dir: PathBuf,
    fingerprint: String,
}

impl CompiledCache {
    /// The cache in `dir` (created if missing) for components compiled by `engine`.
    pub fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        // `DefaultHasher::new()` has fixed keys: the same configuration gives the same name.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompiledCache {
            dir: dir.to_path_buf(),
            fingerprint: format!("{:016x}", hasher.finish()),
        })
    }

    fn path(&self, hash: &ComponentHash) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hash.to_hex(), self.fingerprint))
    }

    /// Component `hash` (whose bytes are `bytes`): loaded from disk if it was compiled before,
    /// else compiled and stored. Blocking: run it off the async threads.
    // The one `unsafe` of the host: loading native code wasmtime compiled earlier.
    #[allow(unsafe_code)]
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        hash: &ComponentHash,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let path = self.path(hash);
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of this host (the data
            // directory is the host's own), for these bytes (named by their sha256) and this
            // engine configuration (named by its fingerprint, which wasmtime checks again).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!("compiling again: cannot load {}: {err:#}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(err) = self.store(&path, &component) {
            tracing::warn!("cannot store {}: {err:#}", path.display());
        }
        Ok(component)
    }

    /// Forgets component `hash`: a component refused after it compiled leaves nothing on disk.
    pub fn remove(&self, hash: &ComponentHash) {
        let path = self.path(hash);
        if let Err(err) = std::fs::remove_file(&path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {err:#}", path.display());
        }
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let serialized = component.serialize()?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, serialized)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
