// Stoa's JavaScript SDK: write a live game the way an oTree app reads.
//
// A game is an ES module (`src/game.js` in the game's folder) exporting plain functions;
// the SDK implements the component's exports by calling them:
//
//   export function liveMethod(group, idInGroup, payload) {
//     if (payload.bid > group.max_bid) {
//       group.max_bid = payload.bid;               // a typed, checked write
//       return { 0: { max_bid: group.max_bid } };  // 0 = the whole group
//     }
//     return { [idInGroup]: { rejected: true } };
//   }
//   export function varsForTemplate(group, idInGroup) { return { max_bid: group.max_bid }; }
//   export function errorMessage(group, idInGroup, values) { return undefined; }  // or the text
//   export function callLiveMethod(method, bot) { ... method(1, { bid: 10 }) ... }
//
// Layout:
// - stoa.js (this file): Group, Player, the two errors a game can see, and `world(game,
//   host)`, the world's four exports as plain functions over an injected host, so it can
//   be tested under Node without wasm.
// - world.js: binds `world` to the component's imports (`stoa:game/fields`, `bot-driver`).
// - build.mjs: writes a game's entry module and runs componentize-js on it.
//
// Fields are read from and written to the host on every access: nothing is cached, so a
// read always sees this call's own writes. A `json` field's value is a fresh copy:
// `group.history.push(x)` changes the copy only; write it back with
// `group.history = [...group.history, x]`.

/** The host refused a field read or write: an undeclared field, a value whose type does
 * not fit the manifest, or a write outside `liveMethod`. */
export class FieldError extends Error {
  constructor(message) {
    super(message);
    this.name = "FieldError";
  }
}

/** A `method(idInGroup, payload)` call in `callLiveMethod` was refused: the game's
 * `liveMethod` answered with an error, whose text this carries. */
export class LiveError extends Error {
  constructor(message) {
    super(message);
    this.name = "LiveError";
  }
}

// Property names that are never fields, so a Proxy does not ask the host for them.
const NOT_FIELDS = new Set(["then", "toJSON", "inspect"]);

function isField(target, prop) {
  return typeof prop === "string" && !(prop in target) && !prop.startsWith("_") && !NOT_FIELDS.has(prop);
}

function fieldProxy(target, kind) {
  return new Proxy(target, {
    get(t, prop, receiver) {
      return isField(t, prop) ? t.get(prop) : Reflect.get(t, prop, receiver);
    },
    set(t, prop, value) {
      if (!isField(t, prop)) {
        throw new TypeError(`\`${String(prop)}\` is not a field: use ${kind}.set(${JSON.stringify(String(prop))}, value)`);
      }
      t.set(prop, value);
      return true;
    },
  });
}

/** The calling group: its fields as properties (`group.max_bid`) or through `get`/`set`
 * (for a field whose name is also a name below, or starts with `_`), its players, and
 * where the call happens. Made by the SDK; a game never constructs one. */
export class Group {
  constructor(ctx, host) {
    this._ctx = ctx;
    this._host = host;
    return fieldProxy(this, "group");
  }

  /** The 1-based round number. */
  get roundNumber() {
    return this._ctx.roundNumber;
  }

  /** The current page's name, as in game.toml. */
  get page() {
    return this._ctx.page;
  }

  /** The session's code. */
  get session() {
    return this._ctx.session;
  }

  /** The group's number within the round, 1-based (oTree's `id_in_subsession`). */
  get idInSubsession() {
    return this._ctx.groupId;
  }

  /** A field's value (JSON-decoded). Throws `FieldError` if the host refuses. */
  get(name) {
    return JSON.parse(ask(`group.${name}`, () => this._host.groupGet(name)));
  }

  /** Writes a field. Throws `FieldError` if the host refuses (wrong type, undeclared). */
  set(name, value) {
    const where = `group.${name}`;
    const text = encode(where, value);
    ask(where, () => this._host.groupSet(name, text));
  }

  /** Every player of the group, by id in group (1, 2, ...). */
  getPlayers() {
    const players = [];
    for (let id = 1; id <= this._ctx.players; id++) players.push(new Player(this, id));
    return players;
  }

  /** The player with this id in the group; throws `RangeError` if there is none. */
  getPlayerById(idInGroup) {
    if (!Number.isInteger(idInGroup) || idInGroup < 1 || idInGroup > this._ctx.players) {
      throw new RangeError(`no player ${idInGroup} in this group: ids are 1..${this._ctx.players}`);
    }
    return new Player(this, idInGroup);
  }

  /** Same as `getPlayerById`. */
  player(idInGroup) {
    return this.getPlayerById(idInGroup);
  }
}

/** A player of the group: `player.bids` or `player.get("bids")` are its fields. */
export class Player {
  constructor(group, idInGroup) {
    this.group = group;
    this.idInGroup = idInGroup;
    return fieldProxy(this, "player");
  }

  /** The group's other players, by id in group. */
  getOthersInGroup() {
    return this.group.getPlayers().filter((p) => p.idInGroup !== this.idInGroup);
  }

  /** A field's value (JSON-decoded). Throws `FieldError` if the host refuses. */
  get(name) {
    const where = `player(${this.idInGroup}).${name}`;
    return JSON.parse(ask(where, () => this.group._host.playerGet(this.idInGroup, name)));
  }

  /** Writes a field. Throws `FieldError` if the host refuses. */
  set(name, value) {
    const where = `player(${this.idInGroup}).${name}`;
    const text = encode(where, value);
    ask(where, () => this.group._host.playerSet(this.idInGroup, name, text));
  }
}

/**
 * The world's four exports, delegating to `game`'s functions. `host` has the `fields`
 * functions (`groupGet`, ...; refusals throw `FieldError`) and `liveMethod` of
 * `bot-driver` (refusals throw `LiveError`). Exceptions in `liveMethod` and
 * `callLiveMethod` become the WIT `err` with the error's `Name: message` line; in
 * `errorMessage` and `varsForTemplate`, which have no `err`, they trap.
 */
export function world(game, host) {
  return {
    liveMethod(ctx, idInGroup, payload) {
      try {
        if (typeof game.liveMethod !== "function") throw new TypeError("this game exports no liveMethod");
        const routed = game.liveMethod(new Group(ctx, host), idInGroup, JSON.parse(payload));
        return messages(routed, ctx.players);
      } catch (e) {
        return { tag: "err", val: report(e) };
      }
    },

    errorMessage(ctx, idInGroup, values) {
      if (typeof game.errorMessage !== "function") return undefined;
      const text = game.errorMessage(new Group(ctx, host), idInGroup, JSON.parse(values));
      if (text === undefined || text === null || text === "") return undefined;
      if (typeof text === "object") {
        return Object.entries(text).map(([k, v]) => `${k}: ${v}`).join("; ");
      }
      return String(text);
    },

    varsForTemplate(ctx, idInGroup) {
      const values = typeof game.varsForTemplate === "function" ? game.varsForTemplate(new Group(ctx, host), idInGroup) : {};
      if (values === undefined || values === null) return "{}";
      if (typeof values !== "object" || Array.isArray(values)) {
        throw new TypeError(`varsForTemplate must return an object, not ${typeof values}`);
      }
      return encode("varsForTemplate", values, TypeError);
    },

    callLiveMethod(ctx, botCase) {
      if (typeof game.callLiveMethod !== "function") return undefined;
      const method = (idInGroup, payload) => {
        const routed = {};
        for (const m of host.liveMethod(idInGroup, encode("payload", payload, TypeError))) {
          if (m.to in routed) throw new Error(`two messages routed to ${m.to} by one call`);
          routed[m.to] = JSON.parse(m.payload);
        }
        return routed;
      };
      try {
        game.callLiveMethod(method, {
          group: new Group(ctx, host),
          page: ctx.page,
          roundNumber: ctx.roundNumber,
          case: botCase,
        });
        return undefined;
      } catch (e) {
        return { tag: "err", val: report(e) };
      }
    },
  };
}

/** The error's one-line text (`Name: message`), with its stack printed to stderr (the
 * host's log). */
export function report(e) {
  const text = errorText(e);
  if (e instanceof Error && e.stack) console.error(`${text}\n${e.stack}`);
  else console.error(text);
  return text;
}

/** What a thrown value says in one line: `TypeError: ...` for an Error, else itself. */
export function errorText(e) {
  if (e instanceof Error) return e.message ? `${e.name}: ${e.message}` : e.name;
  try {
    return String(e);
  } catch {
    return "a thrown value that cannot be printed";
  }
}

function messages(routed, players) {
  if (routed === undefined || routed === null) return [];
  if (typeof routed !== "object" || Array.isArray(routed)) {
    throw new TypeError(`liveMethod must return { idInGroup: message } (0 = the whole group) or nothing, not ${Array.isArray(routed) ? "an array" : typeof routed}`);
  }
  const out = [];
  for (const [key, payload] of Object.entries(routed)) {
    const to = Number(key);
    if (!/^\d+$/.test(key) || to > players) {
      throw new RangeError(`message addressed to ${JSON.stringify(key)}: ids in this group are 1..${players}, or 0 for the whole group`);
    }
    out.push({ to, payload: encode(`message to ${to}`, payload, TypeError) });
  }
  return out;
}

function ask(where, call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof FieldError) throw new FieldError(`${where}: ${e.message}`);
    throw e;
  }
}

// JSON text of `value`, refusing what JSON.stringify would silently change (NaN becomes
// null) or drop (undefined).
function encode(where, value, Kind = FieldError) {
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new Kind(`${where}: cannot store ${v}: not a JSON number`);
    }
    return v;
  });
  if (text === undefined) throw new Kind(`${where}: cannot store ${String(value)}: not JSON`);
  return text;
}
