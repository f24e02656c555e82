//! What a store holds for one lookup: a WASI context that grants only the provider's environment variables,
//! the HTTP hooks, resource limits, and the host functions of the `host` interface.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{host, types};
use crate::grants::{FileReadError, read_granted_file};
use crate::transport::ProviderHooks;

/// Severity of a provider log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Informational.
    Info,
    /// Worth an operator's attention.
    Warning,
}

/// Where provider log records go. The default sends them to `tracing`.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The data of one store.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: ProviderHooks,
    pub(crate) limits: StoreLimits,
    namespace: Result<String, String>,
    log: LogSink,
    files: Arc<[PathBuf]>,
}

/// What one store is given besides its limits.
pub struct StoreGrants {
    /// The HTTP hooks (policy, credentials, transport).
    pub hooks: ProviderHooks,
    /// The answer of `detected-namespace`.
    pub namespace: Result<String, String>,
    /// The WASI environment: only the granted variables.
    pub env: Arc<[(String, String)]>,
    /// The files `read-file` may read.
    pub files: Arc<[PathBuf]>,
    /// Where log records go.
    pub log: LogSink,
}

impl State {
    /// A store state whose WASI context holds the granted environment variables and nothing else: no
    /// arguments, no directories, no stdio, no sockets.
    pub fn new(grants: StoreGrants, limits: StoreLimits) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.envs(&grants.env);
        Self {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: grants.hooks,
            limits,
            namespace: grants.namespace,
            log: grants.log,
            files: grants.files,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl types::Host for State {}

impl host::Host for State {
    fn log(&mut self, level: host::LogLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host::LogLevel::Info => LogLevel::Info,
            host::LogLevel::Warning => LogLevel::Warning,
        };
        (self.log)(level, &message);
        Ok(())
    }

    fn detected_namespace(&mut self) -> wasmtime::Result<Result<String, String>> {
        Ok(self.namespace.clone())
    }

    fn read_file(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, host::FileError>> {
        Ok(read_granted_file(&path, &self.files).map_err(|e| match e {
            FileReadError::NotFound(_) => host::FileError::NotFound,
            FileReadError::Denied(_) => {
                tracing::warn!(path = %path, "refused a provider file read");
                host::FileError::Denied(e.to_string())
            }
            FileReadError::Io(..) => host::FileError::Io(e.to_string()),
        }))
    }
}
