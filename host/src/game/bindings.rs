//! The one place that runs `bindgen!` on `wit/`: everyone else imports the generated types
//! from here, so host and guests read the same world.

wasmtime::component::bindgen!({
    path: "../wit/0.1",
    world: "game",
});
