//! What a store holds for one lookup: a WASI context that grants nothing, the HTTP hooks, resource limits,
//! and the host functions of the `host` interface.

use std::sync::Arc;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{host, types};
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
}

impl State {
    /// A store state whose WASI context grants nothing: no environment, no arguments, no files, no stdio.
    pub fn new(hooks: ProviderHooks, limits: StoreLimits, namespace: Result<String, String>, log: LogSink) -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            limits,
            namespace,
            log,
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
}
