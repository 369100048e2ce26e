// An in-memory stand-in for Stoa's host, enough to run a JavaScript game's functions under
// Node: fields typed by the game's game.toml (group, player with the built-in `payoff`,
// participant, session), writes only inside a writing call (live, before-next-page,
// after-all-players-arrive; creating-session also the session and every group) and rolled
// back when it fails, earlier rounds read-only, the session config from `[config]`, and a
// bot-driver that makes real (fake) live calls. One group: positions in the session are ids.
//
// It follows DESIGN.md's field rules; the real host is the authority, and `stoa bots` the
// real test.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FieldError, LiveError, world } from "../stoa.js";

const KINDS = ["group", "player", "participant", "session"];

const TYPES = {
  integer: (v) => Number.isInteger(v),
  float: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  string: (v) => typeof v === "string",
  json: () => true,
};

// The [KIND.fields] tables of a game.toml whose fields are written
// `name = { type = "T", initial = V, ... }` with V in JSON syntax (as the examples are), its
// [config] (`key = V`) and `num_rounds`.
export function readFields(gameDir) {
  const fields = { group: {}, player: {}, participant: {}, session: {} };
  const config = {};
  let numRounds = 1;
  let table = null;
  for (const line of readFileSync(join(gameDir, "game.toml"), "utf8").split("\n")) {
    const header = line.match(/^\s*(\[+)\s*([\w.]+)\s*\]+/);
    if (header) {
      table = header[1] === "[" ? header[2] : null;
      continue;
    }
    const value = line.match(/^\s*(\w+)\s*=\s*(.*?)\s*(#.*)?$/);
    if (!value) continue;
    if (table === null && value[1] === "num_rounds") numRounds = Number(value[2]);
    if (table === "config") config[value[1]] = JSON.parse(value[2]);
    const kind = table && table.endsWith(".fields") ? table.slice(0, -".fields".length) : null;
    const type = kind && value[2].match(/type\s*=\s*"(\w+)"/);
    if (type) {
      const initial = value[2].match(/initial\s*=\s*(\[[^\]]*\]|"[^"]*"|[^,\s}]+)/);
      fields[kind][value[1]] = { type: type[1], initial: initial ? JSON.parse(initial[1]) : null };
    }
  }
  return { ...fields, config, numRounds };
}

const initial = (types) => Object.fromEntries(Object.entries(types).map(([k, f]) => [k, f.initial]));

export class FakeHost {
  constructor(gameDir, game, players) {
    const { config, numRounds, ...fields } = readFields(gameDir);
    fields.player = { payoff: { type: "float", initial: 0 }, ...fields.player };
    this.fields = fields;
    this.config = config;
    this.numRounds = numRounds;
    this.players = players;
    this.round = 1;
    this.rounds = {}; // earlier rounds: round -> [group, player]
    this.created = {};
    [this.group, this.player] = this.#fresh();
    this.participant = {};
    for (let id = 1; id <= players; id++) this.participant[id] = initial(fields.participant);
    this.session = initial(fields.session);
    this.exports = world(game, this);
    this.writable = false;
    this.creating = false;
    this.page = null;
  }

  ctx(page, groupId = 1) {
    const config = JSON.stringify(this.config);
    return { session: "s1", roundNumber: this.round, page, groupId, players: this.players, numRounds: this.numRounds, config };
  }

  #fresh() {
    const player = {};
    for (let id = 1; id <= this.players; id++) player[id] = initial(this.fields.player);
    return [initial(this.fields.group), player];
  }

  // Keeps this round's group and players as an earlier round and starts the next (from
  // what creating-session wrote for it).
  nextRound() {
    this.rounds[this.round] = structuredClone([this.group, this.player]);
    this.round += 1;
    [this.group, this.player] = this.created[this.round] ? structuredClone(this.created[this.round]) : this.#fresh();
  }

  // The `fields` interface.
  groupGet(name) {
    if (!(name in this.group)) throw new FieldError(`no group field \`${name}\``);
    return JSON.stringify(this.group[name]);
  }
  groupSet(name, value) {
    this.#write(this.group, this.fields.group, name, value);
  }
  playerGet(id, name) {
    if (!(id in this.player) || !(name in this.player[id])) throw new FieldError(`no player field \`${name}\` for ${id}`);
    return JSON.stringify(this.player[id][name]);
  }
  playerSet(id, name, value) {
    if (!(id in this.player)) throw new FieldError(`no player ${id}`);
    this.#write(this.player[id], this.fields.player, name, value);
  }
  participantGet(id, name) {
    if (!(id in this.participant) || !(name in this.participant[id])) throw new FieldError(`no participant field \`${name}\` for ${id}`);
    return JSON.stringify(this.participant[id][name]);
  }
  participantSet(id, name, value) {
    if (!(id in this.participant)) throw new FieldError(`no player ${id}`);
    this.#write(this.participant[id], this.fields.participant, name, value);
  }
  sessionGet(name) {
    if (!(name in this.session)) throw new FieldError(`no session field \`${name}\``);
    return JSON.stringify(this.session[name]);
  }
  sessionSet(name, value) {
    if (!this.creating) throw new FieldError("session fields are written only in creating-session");
    this.#write(this.session, this.fields.session, name, value);
  }
  groupGetInRound(round, name) {
    const earlier = this.rounds[round];
    if (!earlier) throw new FieldError(`round ${round} is not an earlier round`);
    if (!(name in earlier[0])) throw new FieldError(`no group field \`${name}\``);
    return JSON.stringify(earlier[0][name]);
  }
  playerGetInRound(round, id, name) {
    const earlier = this.rounds[round];
    if (!earlier) throw new FieldError(`round ${round} is not an earlier round`);
    if (!(id in earlier[1]) || !(name in earlier[1][id])) throw new FieldError(`no player field \`${name}\` for ${id}`);
    return JSON.stringify(earlier[1][id][name]);
  }
  roundGroups() {
    return this.creating ? [Array.from({ length: this.players }, (_, i) => i + 1)] : [];
  }
  groupSetIn(groupId, name, value) {
    if (!this.creating) throw new FieldError("group-set-in is only for creating-session");
    if (groupId !== 1) throw new FieldError(`no group ${groupId}`);
    this.#write(this.group, this.fields.group, name, value);
  }
  #write(values, types, name, text) {
    if (!this.writable) throw new FieldError("fields are read-only in this call");
    if (!(name in types)) throw new FieldError(`no field \`${name}\``);
    const value = JSON.parse(text);
    if (value !== null && !TYPES[types[name].type](value)) throw new FieldError(`\`${name}\` is ${types[name].type}, not ${text}`);
    values[name] = value;
  }

  // The `bot-driver` interface.
  liveMethod(id, payload) {
    if (this.page === null) throw new LiveError("bot-driver is only available in call-live-method");
    return this.live(this.page, id, payload);
  }

  // What the host does with the world's exports. Returns the routed messages, or throws
  // LiveError with the game's reason.
  live(page, id, payloadText) {
    const saved = structuredClone([this.group, this.player]);
    this.writable = true;
    let result;
    try {
      result = this.exports.liveMethod(this.ctx(page), id, payloadText);
    } finally {
      this.writable = false;
    }
    if (!Array.isArray(result)) {
      [this.group, this.player] = saved;
      throw new LiveError(result.val);
    }
    return result;
  }

  bots(page, botCase) {
    this.page = page;
    try {
      const result = this.exports.callLiveMethod(this.ctx(page), botCase);
      if (result !== undefined) throw new Error(`bots failed: ${result.val}`);
    } finally {
      this.page = null;
    }
  }

  // A writing export, like the host: all of its writes or none. Returns what it returned;
  // an `err` is thrown as an Error with its text.
  #writing(run, creating = false) {
    const saved = structuredClone([this.group, this.player, this.participant, this.session]);
    this.writable = true;
    this.creating = creating;
    let result;
    try {
      result = run();
    } catch (e) {
      [this.group, this.player, this.participant, this.session] = saved;
      throw e;
    } finally {
      this.writable = this.creating = false;
    }
    if (result && result.tag === "err") {
      [this.group, this.player, this.participant, this.session] = saved;
      throw new Error(result.val);
    }
    return result;
  }

  // creating-session once per round, as the host does at creation.
  createSession() {
    for (let r = 1; r <= this.numRounds; r++) {
      this.round = r;
      [this.group, this.player] = this.#fresh();
      this.#writing(() => this.exports.creatingSession(this.ctx("", 0)), true);
      this.created[r] = structuredClone([this.group, this.player]);
    }
    this.round = 1;
    [this.group, this.player] = structuredClone(this.created[1]);
  }

  // A page submission after the host's parsing: error-message (not on a timeout, as in
  // oTree), then the values stored and before-next-page in one commit. Returns the error
  // text or undefined.
  submit(page, id, values, timeoutHappened = false) {
    const ctx = this.ctx(page);
    if (!timeoutHappened) {
      const error = this.exports.errorMessage(ctx, id, JSON.stringify(values));
      if (error !== undefined) return error;
    }
    this.#writing(() => {
      for (const [name, value] of Object.entries(values)) this.playerSet(id, name, JSON.stringify(value));
      return this.exports.beforeNextPage(ctx, id, timeoutHappened);
    });
    return undefined;
  }

  // The last player arrived on wait page `page`.
  arrive(page) {
    this.#writing(() => this.exports.afterAllPlayersArrive(this.ctx(page)));
  }

  submissions(page, id, botCase) {
    return this.exports.botSubmissions(this.ctx(page), id, botCase).map((s) => [JSON.parse(s.values), s.mustFail]);
  }

  vars(page, id) {
    return JSON.parse(this.exports.varsForTemplate(this.ctx(page), id));
  }
}
