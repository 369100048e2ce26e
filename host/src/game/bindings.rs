//! The one place that runs `bindgen!` on `wit/`: everyone else imports the generated types
//! from here, so host and guests read the same worlds. Both versions are linked (a component
//! built for 0.1 keeps running unchanged); [`crate::game::world`] tells them apart and gives a
//! 0.1 game the defaults of 0.2's hooks.

/// `stoa:game@0.1.0` (`wit/0.1/game.wit`).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1",
        world: "game",
    });
}

/// `stoa:game@0.2.0` (`wit/game.wit`): the host's own shape of a call.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "game",
    });
}
