//! `impl bot_driver::Host`: a bot's `bot-driver.live-method`, a real live call on the group
//! the bot runs in, made through the game the bot run calls back into ([`BotTarget`]).

use crate::game::Game;
use crate::game::bindings::{v0_1, v0_2};
use crate::game::error::CallError;
use crate::game::state::{BotCall, BotTarget, CallState, Instance, Mode};
use crate::live::{Group, Routed};
use crate::store::Store;

impl v0_1::stoa::game::bot_driver::Host for CallState {
    fn live_method(&mut self, id_in_group: u32, payload: String) -> Result<Vec<v0_1::stoa::game::types::Message>, String> {
        let messages = v0_2::stoa::game::bot_driver::Host::live_method(self, id_in_group, payload)?;
        Ok(messages.into_iter().map(|m| v0_1::stoa::game::types::Message { to: m.to, payload: m.payload }).collect())
    }
}

impl v0_2::stoa::game::bot_driver::Host for CallState {
    fn live_method(&mut self, id_in_group: u32, payload: String) -> Result<Vec<v0_2::stoa::game::types::Message>, String> {
        let Mode::Bot(env) = &mut self.mode else {
            return Err(self.refused("bot-driver.live-method", "bot-driver is only available inside call-live-method".into()));
        };
        let result = env.game.live_method(&mut env.warm, &self.store, &mut env.group, &env.page, id_in_group, &payload);
        let answer = match &result {
            Ok(messages) => Ok(messages.iter().map(|m| v0_2::stoa::game::types::Message { to: m.to, payload: m.payload.clone() }).collect()),
            Err(e) => Err(e.to_string()),
        };
        env.calls.push(BotCall { player: id_in_group, payload, result });
        answer
    }
}

impl BotTarget for Game {
    fn live_method(
        &self,
        warm: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
    ) -> Result<Vec<Routed>, CallError> {
        self.live_call_in(warm, store, group, page, id_in_group, payload).map(|c| c.messages)
    }
}
