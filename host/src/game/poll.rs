//! `wasi:io/poll` bounded by the call's deadline. A game that sleeps (`std::thread::sleep`,
//! Python's `time.sleep`: a monotonic-clock pollable, then `poll` or `block`) waits inside
//! host code, where no epoch tick can stop it; here every wait ends by the call's deadline at
//! the latest, and a wait cut short fails the call as a timeout ([`wasmtime::Trap::Interrupt`],
//! as the epoch deadline does).

use std::future::Future;
use std::time::Instant;

use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::poll::DynPollable;

/// What a bounded wait needs of the call's state: its resources and when its deadline falls.
pub(crate) struct Waits<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) until: Instant,
}

/// The linker's handle on [`Waits`].
pub(crate) struct HasWaits;

impl HasData for HasWaits {
    type Data<'a> = Waits<'a>;
}

/// Runs the wait `f` until `until` at the latest; past it, the call traps as a timeout.
fn bounded<T>(until: Instant, f: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    let left = until.saturating_duration_since(Instant::now());
    // The timer is made inside `in_tokio`, where a runtime is entered.
    wasmtime_wasi::runtime::in_tokio(async move { tokio::time::timeout(left, f).await }).unwrap_or_else(|_| Err(wasmtime::Trap::Interrupt.into()))
}

impl poll::Host for Waits<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        bounded(self.until, async_poll::Host::poll(&mut *self.table, pollables))
    }
}

impl poll::HostPollable for Waits<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        poll::HostPollable::ready(&mut *self.table, pollable)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        bounded(self.until, async_poll::HostPollable::block(&mut *self.table, pollable))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(&mut *self.table, pollable)
    }
}
