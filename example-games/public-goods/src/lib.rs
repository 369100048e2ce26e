//! The public goods game: Stoa's example of a whole study, written as oTree's sample is.
//!
//! Each of three players has `endowment` points and contributes part of it on the
//! `Contribute` page (a form: the host checks 0..=100 and stores `contribution`). When the
//! whole group has arrived on `ResultsWait`, `after_all_players_arrive` adds the
//! contributions, multiplies them by the session config's `multiplier` (a treatment may
//! change it) and gives each player `endowment - contribution + share` as `payoff`.
//! `Results` shows the round and every earlier one (`get_in_round`). Its bots try a
//! contribution over the maximum (which must be refused), then give half.

use stoa_sdk::bot::Submission;
use stoa_sdk::{Context, Game, Messages, Result, Value, bail, group, json, player};

struct PublicGoods;

stoa_sdk::export_game!(PublicGoods);

impl Game for PublicGoods {
    /// No live page: every payload is refused.
    fn live_method(_ctx: &Context, _id_in_group: u32, _payload: Value) -> Result<Messages> {
        bail!("the public goods game has no live page")
    }

    fn vars_for_template(ctx: &Context, id_in_group: u32) -> Result<Value> {
        let mut history = Vec::new();
        if ctx.page == "Results" {
            for round in 1..ctx.round_number {
                history.push(json!({
                    "round": round,
                    "contribution": player(id_in_group).get_in_round::<i64>(round, "contribution")?,
                    "total": group().get_in_round::<i64>(round, "total_contribution")?,
                    "payoff": player(id_in_group).get_in_round::<f64>(round, "payoff")?,
                }));
            }
            history.push(json!({
                "round": ctx.round_number,
                "contribution": player(id_in_group).get::<i64>("contribution")?,
                "total": group().get::<i64>("total_contribution")?,
                "payoff": player(id_in_group).payoff()?,
            }));
        }
        Ok(json!({
            "endowment": ctx.config["endowment"],
            "multiplier": ctx.config["multiplier"],
            "history": history,
        }))
    }

    /// The bots: a contribution over the maximum must be refused, then each gives half.
    fn bot_submissions(ctx: &Context, _id_in_group: u32, _case: Option<&str>) -> Result<Vec<Submission>> {
        Ok(match ctx.page.as_str() {
            "Contribute" => vec![Submission::must_fail(json!({"contribution": 101})), Submission::new(json!({"contribution": 50}))],
            _ => vec![Submission::new(json!({}))],
        })
    }

    fn after_all_players_arrive(ctx: &Context) -> Result<()> {
        let endowment = ctx.config_f64("endowment")?;
        let multiplier = ctx.config_f64("multiplier")?;
        let mut total = 0;
        for id in ctx.player_ids() {
            total += player(id).get::<i64>("contribution")?;
        }
        let share = total as f64 * multiplier / f64::from(ctx.players);
        group().set("total_contribution", total)?;
        group().set("individual_share", share)?;
        for id in ctx.player_ids() {
            let contribution = player(id).get::<i64>("contribution")? as f64;
            player(id).set_payoff(endowment - contribution + share)?;
        }
        Ok(())
    }
}
