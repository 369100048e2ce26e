// An in-memory stand-in for Stoa's host, enough to run a JavaScript game's functions under
// Node: fields typed by the game's game.toml, writes only inside a live call and rolled
// back when it fails, and a bot-driver that makes real (fake) live calls.
//
// It follows DESIGN.md's field rules; the real host is the authority, and `stoa bots` the
// real test.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FieldError, LiveError, world } from "../stoa.js";

const TYPES = {
  integer: (v) => Number.isInteger(v),
  float: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  string: (v) => typeof v === "string",
  json: () => true,
};

// The [group.fields] and [player.fields] tables of a game.toml whose fields are written
// `name = { type = "T", initial = V }` with V in JSON syntax (as the examples are).
export function readFields(gameDir) {
  const fields = { group: {}, player: {} };
  let table = null;
  for (const line of readFileSync(join(gameDir, "game.toml"), "utf8").split("\n")) {
    const header = line.match(/^\s*\[+\s*([\w.]+)\s*\]+/);
    if (header) {
      table = { "group.fields": "group", "player.fields": "player" }[header[1]] ?? null;
      continue;
    }
    const m = table && line.match(/^\s*(\w+)\s*=\s*\{\s*type\s*=\s*"(\w+)"\s*(?:,\s*initial\s*=\s*(.*?))?\s*\}/);
    if (m) fields[table][m[1]] = { type: m[2], initial: m[3] === undefined ? null : JSON.parse(m[3]) };
  }
  return fields;
}

export class FakeHost {
  constructor(gameDir, game, players) {
    this.fields = readFields(gameDir);
    this.players = players;
    this.group = Object.fromEntries(Object.entries(this.fields.group).map(([k, f]) => [k, f.initial]));
    this.player = {};
    for (let id = 1; id <= players; id++) {
      this.player[id] = Object.fromEntries(Object.entries(this.fields.player).map(([k, f]) => [k, f.initial]));
    }
    this.exports = world(game, this);
    this.writable = false;
    this.page = null;
  }

  ctx(page) {
    return { session: "s1", roundNumber: 1, page, groupId: 1, players: this.players };
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
  #write(values, types, name, text) {
    if (!this.writable) throw new FieldError("fields are read-only outside live-method");
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

  vars(page, id) {
    return JSON.parse(this.exports.varsForTemplate(this.ctx(page), id));
  }
}
