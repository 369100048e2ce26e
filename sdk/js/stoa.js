// Stoa's JavaScript SDK: write a live game the way an oTree app reads.
//
// A game is an ES module (`src/game.js` in the game's folder) exporting plain functions;
// the SDK implements the component's exports by calling them. oTree 5's shape, in JS:
//
//   export function liveMethod(player, data) {
//     const group = player.group;
//     if (data.bid > group.max_bid) {
//       group.max_bid = data.bid;                  // a typed, checked write
//       return { 0: { max_bid: group.max_bid } };  // 0 = the whole group
//     }
//     return { [player.idInGroup]: { rejected: true } };
//   }
//   export function varsForTemplate(player) { return { max_bid: player.group.max_bid }; }
//   export function errorMessage(player, values) { return undefined; }  // or the text
//   export function creatingSession(subsession) {}                     // every hook optional
//   export const Contribute = { beforeNextPage(player, timeoutHappened) {} };  // per page
//   export const ResultsWait = { afterAllPlayersArrive(group) {} };
//   export function botSubmissions(player, botCase) { return [{ contribution: 10 }]; }
//   export function callLiveMethod(method, bot) { ... method(1, { bid: 10 }) ... }
//
// That shape is chosen by an explicit marker, `export const shape = "otree";` (a function's
// `length` cannot tell: JS code leaves unused parameters out). Without it, the seed's 0.1
// shape keeps working unchanged: `liveMethod(group, idInGroup, payload)`,
// `varsForTemplate(group, idInGroup)`, `errorMessage(group, idInGroup, values)`, and
// `group.session` is the session's code. The new hooks take the same arguments either way.
//
// Layout:
// - stoa.js (this file): Session, Subsession, Group, Player, Participant, earlier rounds,
//   Submission, the two errors a game can see, and `world(game, host)`, the world's exports
//   as plain functions over an injected host, so it can be tested under Node without wasm.
// - world.js: binds `world` to the component's imports (`stoa:game/fields`, `bot-driver`).
// - build.mjs: writes a game's entry module and runs componentize-js on it.
//
// Fields are read from and written to the host on every access: nothing is cached, so a
// read always sees this call's own writes. A `json` field's value is a fresh copy:
// `group.history.push(x)` changes the copy only; write it back with
// `group.history = [...group.history, x]`.

/** The host refused a field read or write: an undeclared field, a value whose type does
 * not fit the manifest, or a write where the call may not write. */
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

/** Fields as properties, read from and written to the host on every access; `get`/`set`
 * reach any field (one whose name is also a property below, or starts with `_`).
 * Subclasses define `_where(name)`, `_read(name)` (JSON text) and `_write(name, text)`. */
class Fields {
  /** A field's value (JSON-decoded). Throws `FieldError` if the host refuses. */
  get(name) {
    return JSON.parse(ask(this._where(name), () => this._read(name)));
  }

  /** Writes a field. Throws `FieldError` if the host refuses (wrong type, undeclared, or a
   * call that may not write it). */
  set(name, value) {
    const where = this._where(name);
    const text = encode(where, value);
    ask(where, () => this._write(name, text));
  }
}

/** An earlier round's group or player: its fields, read-only. */
class ReadOnly extends Fields {
  constructor(of, roundNumber, kind) {
    super();
    this._of = of;
    this._round = roundNumber;
    return fieldProxy(this, kind);
  }

  /** The earlier round's number. */
  get roundNumber() {
    return this._round;
  }

  _write() {
    throw new FieldError("earlier rounds are read-only");
  }
}

/** The session: `config` (the treatment: `[config]` of game.toml with the chosen
 * `[[session_config]]`'s overrides), `code`, `numRounds`, and its `[session.fields]` as
 * properties (writable only in `creatingSession`). As a primitive (`${session}`,
 * `session == "code"`) it is its code, as `group.session` was in 0.1. */
export class Session extends Fields {
  constructor(ctx, host) {
    super();
    this._ctx = ctx;
    this._host = host;
    this._cache = {}; // `this` in a getter is the proxy, which refuses new properties
    return fieldProxy(this, "session");
  }

  /** The session's code. */
  get code() {
    return this._ctx.session;
  }

  /** The session's config, an object (parsed once per call). */
  get config() {
    if (!("config" in this._cache)) this._cache.config = JSON.parse(this._ctx.config);
    return this._cache.config;
  }

  /** How many rounds the game has. */
  get numRounds() {
    return this._ctx.numRounds;
  }

  [Symbol.toPrimitive]() {
    return this._ctx.session;
  }

  toString() {
    return this._ctx.session;
  }

  _where(name) {
    return `session.${name}`;
  }
  _read(name) {
    return this._host.sessionGet(name);
  }
  _write(name, text) {
    this._host.sessionSet(name, text);
  }
}

/** The calling group: its fields as properties (`group.max_bid`) or through `get`/`set`
 * (for a field whose name is also a name below, or starts with `_`), its players, earlier
 * rounds, and where the call happens. Made by the SDK; a game never constructs one.
 * `otree` is the game's shape marker: it makes `session` the Session, not the code. */
export class Group extends Fields {
  constructor(ctx, host, otree = false, own = {}) {
    super();
    this._ctx = ctx;
    this._host = host;
    this._otree = otree;
    Object.assign(this, own); // a subclass's own properties, set before the proxy refuses them
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

  /** The session (`config`, fields; as a primitive, its code) in oTree's shape; the
   * session's code in the 0.1 shape. */
  get session() {
    return this._otree ? new Session(this._ctx, this._host) : this._ctx.session;
  }

  /** The group's number within the round, 1-based (oTree's `id_in_subsession`). */
  get idInSubsession() {
    return this._ctx.groupId;
  }

  /** Every player of the group, by id in group (1, 2, ...). */
  getPlayers() {
    const players = [];
    for (let id = 1; id <= this._size(); id++) players.push(this._playerAt(id));
    return players;
  }

  /** The player with this id in the group; throws `RangeError` if there is none. */
  getPlayerById(idInGroup) {
    if (!Number.isInteger(idInGroup) || idInGroup < 1 || idInGroup > this._size()) {
      throw new RangeError(`no player ${idInGroup} in this group: ids are 1..${this._size()}`);
    }
    return this._playerAt(idInGroup);
  }

  /** Same as `getPlayerById`. */
  player(idInGroup) {
    return this.getPlayerById(idInGroup);
  }

  /** This group (the same id) in round `n`: itself for this round, read-only for an
   * earlier one; throws `RangeError` for a later one. */
  inRound(n) {
    return checkRound(this._ctx, n) === this._ctx.roundNumber ? this : new GroupInRound(this, n, "group");
  }

  /** This group in rounds 1 .. this one - 1, read-only. */
  inPreviousRounds() {
    return rounds(this._ctx).map((r) => new GroupInRound(this, r, "group"));
  }

  /** `inPreviousRounds()` and this group. */
  inAllRounds() {
    return [...this.inPreviousRounds(), this];
  }

  _size() {
    return this._ctx.players;
  }
  _playerAt(idInGroup) {
    return new Player(this, idInGroup);
  }
  _where(name) {
    return `group.${name}`;
  }
  _read(name) {
    return this._host.groupGet(name);
  }
  _write(name, text) {
    this._host.groupSet(name, text);
  }
}

/** A player of the group: `player.bids` or `player.get("bids")` are its fields (with the
 * built-in `payoff`); `player.participant`, `player.session`, `player.inRound(n)`. */
export class Player extends Fields {
  constructor(group, idInGroup, position = idInGroup) {
    super();
    this.group = group;
    this.idInGroup = idInGroup;
    // The id the host addresses the player by: its id in the group, except in
    // creatingSession (its position in the session).
    this._id = position;
    return fieldProxy(this, "player");
  }

  /** The 1-based round number. */
  get roundNumber() {
    return this.group.roundNumber;
  }

  /** The session (`player.session.config` is the treatment). */
  get session() {
    return this.group.session;
  }

  /** The participant: its `[participant.fields]`, kept across rounds. */
  get participant() {
    return new Participant(this);
  }

  /** The group's other players, by id in group. */
  getOthersInGroup() {
    return this.group.getPlayers().filter((p) => p.idInGroup !== this.idInGroup);
  }

  /** The player this participant was in round `n`: itself for this round, read-only for
   * an earlier one; throws `RangeError` for a later one. */
  inRound(n) {
    return checkRound(this.group._ctx, n) === this.roundNumber ? this : new PlayerInRound(this, n, "player");
  }

  /** This participant's players in rounds 1 .. this one - 1, read-only. */
  inPreviousRounds() {
    return rounds(this.group._ctx).map((r) => new PlayerInRound(this, r, "player"));
  }

  /** `inPreviousRounds()` and this player. */
  inAllRounds() {
    return [...this.inPreviousRounds(), this];
  }

  _where(name) {
    return `player(${this.idInGroup}).${name}`;
  }
  _read(name) {
    return this.group._host.playerGet(this._id, name);
  }
  _write(name, text) {
    this.group._host.playerSet(this._id, name, text);
  }
}

/** A player's participant: its `[participant.fields]` as properties, kept across rounds,
 * and `payoff`, the sum of its players' `payoff` over the rounds so far. */
export class Participant extends Fields {
  constructor(player) {
    super();
    this._player = player;
    return fieldProxy(this, "participant");
  }

  /** Points so far: this round's `payoff` plus every earlier round's. */
  get payoff() {
    const p = this._player;
    return p.inPreviousRounds().reduce((sum, q) => sum + (q.payoff ?? 0), 0) + (p.payoff ?? 0);
  }

  _where(name) {
    return `player(${this._player.idInGroup}).participant.${name}`;
  }
  _read(name) {
    return this._player.group._host.participantGet(this._player._id, name);
  }
  _write(name, text) {
    this._player.group._host.participantSet(this._player._id, name, text);
  }
}

class GroupInRound extends ReadOnly {
  /** The players of this group's participants in that round, read-only. */
  getPlayers() {
    return this._of.getPlayers().map((p) => p.inRound(this._round));
  }
  _where(name) {
    return `group.inRound(${this._round}).${name}`;
  }
  _read(name) {
    return this._of._host.groupGetInRound(this._round, name);
  }
}

class PlayerInRound extends ReadOnly {
  get participant() {
    return this._of.participant;
  }
  _where(name) {
    return `player(${this._of.idInGroup}).inRound(${this._round}).${name}`;
  }
  _read(name) {
    return this._of.group._host.playerGetInRound(this._round, this._of._id, name);
  }
}

/** The round, in `creatingSession(subsession)`: its groups and players (every participant
 * of the session), the session and the round number. */
export class Subsession {
  constructor(ctx, host) {
    this._ctx = ctx;
    this._host = host;
  }

  /** The 1-based round number being created. */
  get roundNumber() {
    return this._ctx.roundNumber;
  }

  /** The session (its fields are writable here). */
  get session() {
    return new Session(this._ctx, this._host);
  }

  /** The round's groups, in id order (group 1 first). */
  getGroups() {
    return this._host.roundGroups().map((positions, i) => new NewGroup(this._ctx, this._host, i + 1, Array.from(positions)));
  }

  /** Every player of the round, by position in the session (1, 2, ...). */
  getPlayers() {
    return this.getGroups().flatMap((g) => g.getPlayers()).sort((a, b) => a._id - b._id);
  }
}

/** A group in `creatingSession`: its fields are written (`group-set-in`), not read. */
class NewGroup extends Group {
  constructor(ctx, host, groupId, positions) {
    super(ctx, host, true, { _groupId: groupId, _positions: positions });
  }

  get idInSubsession() {
    return this._groupId;
  }

  _size() {
    return this._positions.length;
  }
  _playerAt(idInGroup) {
    return new Player(this, idInGroup, this._positions[idInGroup - 1]);
  }
  _where(name) {
    return `group(${this._groupId}).${name}`;
  }
  _read() {
    throw new FieldError("in creatingSession a group's fields can be written, not read");
  }
  _write(name, text) {
    this._host.groupSetIn(this._groupId, name, text);
  }
}

/** One form submission a bot makes on a page (what `botSubmissions` returns a list of):
 * `values` is an object of the page's `form_fields`; `mustFail` says the host or
 * `errorMessage` must refuse it. A game needs no import for it: an object whose keys are
 * exactly `values` and `mustFail` is a submission, any other object is the values of one
 * to be accepted. */
export class Submission {
  constructor(values = {}, { mustFail = false } = {}) {
    this.values = values;
    this.mustFail = Boolean(mustFail);
  }
}

/** A submission that must be refused, as oTree's `SubmissionMustFail`. */
export function submissionMustFail(values) {
  return new Submission(values, { mustFail: true });
}

function isSubmission(sub) {
  if (sub instanceof Submission) return true;
  if (sub === null || typeof sub !== "object") return false;
  const keys = Object.keys(sub).sort();
  return keys.length === 2 && keys[0] === "mustFail" && keys[1] === "values";
}

function checkRound(ctx, n) {
  if (!Number.isInteger(n) || n < 1 || n > ctx.roundNumber) {
    throw new RangeError(`round ${n} is not this round or an earlier one: rounds are 1..${ctx.roundNumber} here`);
  }
  return n;
}

function rounds(ctx) {
  return Array.from({ length: ctx.roundNumber - 1 }, (_, i) => i + 1);
}

// The game's function `name`: a method of the object exported under the page's name (as
// oTree's page classes hold them) if it has one, else the module's; a string names a
// module function (oTree's `live_method = "live_bid"`).
function hook(game, ctx, name) {
  const page = ctx.page ? game[ctx.page] : undefined;
  let fn = page !== null && (typeof page === "object" || typeof page === "function") ? page[name] : undefined;
  if (fn === undefined) fn = game[name];
  if (typeof fn === "string") fn = game[fn];
  return typeof fn === "function" ? fn.bind(fn === game[name] ? game : page) : undefined;
}

// Whether `game` is in oTree's shape: its `shape` export, "otree" or (the default) "0.1".
function isOtree(game) {
  if (game.shape === undefined || game.shape === "0.1") return false;
  if (game.shape === "otree") return true;
  throw new TypeError(`export const shape must be "otree" or "0.1", not ${JSON.stringify(game.shape)}`);
}

// Runs an export whose WIT result has an `err`: an exception becomes it.
function orErr(run) {
  try {
    return run();
  } catch (e) {
    return { tag: "err", val: report(e) };
  }
}

/**
 * The world's exports, delegating to `game`'s functions. `host` has the `fields`
 * functions (`groupGet`, ...; refusals throw `FieldError`) and `liveMethod` of
 * `bot-driver` (refusals throw `LiveError`). Exceptions in exports with a WIT `err`
 * (`liveMethod`, `callLiveMethod`, `creatingSession`, `beforeNextPage`,
 * `afterAllPlayersArrive`) become that `err` with the error's `Name: message` line; in the
 * others, which have none, they trap.
 *
 * Shapes: with `game.shape === "otree"`, `liveMethod(player, data)`,
 * `varsForTemplate(player)`, `errorMessage(player, values)`; without, 0.1's
 * `liveMethod(group, idInGroup, payload)`, `varsForTemplate(group, idInGroup)`,
 * `errorMessage(group, idInGroup, values)`.
 */
export function world(game, host) {
  const otree = isOtree(game);
  const groupOf = (ctx) => new Group(ctx, host, otree);
  const playerOf = (ctx, idInGroup) => groupOf(ctx).getPlayerById(idInGroup);
  return {
    liveMethod(ctx, idInGroup, payload) {
      return orErr(() => {
        const fn = hook(game, ctx, "liveMethod");
        if (fn === undefined) throw new TypeError("this game exports no liveMethod");
        const group = groupOf(ctx);
        const data = JSON.parse(payload);
        const routed = otree ? fn(group.getPlayerById(idInGroup), data) : fn(group, idInGroup, data);
        return messages(routed, ctx.players);
      });
    },

    errorMessage(ctx, idInGroup, values) {
      const fn = hook(game, ctx, "errorMessage");
      if (fn === undefined) return undefined;
      const typed = JSON.parse(values);
      const text = otree ? fn(playerOf(ctx, idInGroup), typed) : fn(groupOf(ctx), idInGroup, typed);
      if (text === undefined || text === null || text === "") return undefined;
      if (typeof text === "object") {
        return Object.entries(text).map(([k, v]) => `${k}: ${v}`).join("; ");
      }
      return String(text);
    },

    varsForTemplate(ctx, idInGroup) {
      const fn = hook(game, ctx, "varsForTemplate");
      let values = {};
      if (fn !== undefined) {
        values = otree ? fn(playerOf(ctx, idInGroup)) : fn(groupOf(ctx), idInGroup);
      }
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
      return orErr(() => {
        game.callLiveMethod(method, {
          group: groupOf(ctx),
          page: ctx.page,
          roundNumber: ctx.roundNumber,
          case: botCase,
        });
        return undefined;
      });
    },

    creatingSession(ctx) {
      return orErr(() => {
        if (typeof game.creatingSession === "function") game.creatingSession(new Subsession(ctx, host));
        return undefined;
      });
    },

    isDisplayed(ctx, idInGroup) {
      const fn = hook(game, ctx, "isDisplayed");
      return fn === undefined ? true : Boolean(fn(playerOf(ctx, idInGroup)));
    },

    beforeNextPage(ctx, idInGroup, timeoutHappened) {
      return orErr(() => {
        const fn = hook(game, ctx, "beforeNextPage");
        if (fn !== undefined) fn(playerOf(ctx, idInGroup), timeoutHappened);
        return undefined;
      });
    },

    afterAllPlayersArrive(ctx) {
      return orErr(() => {
        const fn = hook(game, ctx, "afterAllPlayersArrive");
        if (fn !== undefined) fn(groupOf(ctx));
        return undefined;
      });
    },

    getTimeoutSeconds(ctx, idInGroup) {
      const fn = hook(game, ctx, "getTimeoutSeconds");
      const seconds = fn === undefined ? undefined : fn(playerOf(ctx, idInGroup));
      if (seconds === undefined || seconds === null) return undefined;
      if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
        throw new RangeError(`getTimeoutSeconds must return seconds >= 0 or nothing, not ${String(seconds)}`);
      }
      return seconds;
    },

    botSubmissions(ctx, idInGroup, botCase) {
      const fn = typeof game.botSubmissions === "function" ? game.botSubmissions : undefined;
      let subs = fn === undefined ? undefined : fn(playerOf(ctx, idInGroup), botCase);
      if (subs === undefined || subs === null) subs = [new Submission()];
      else if (!Array.isArray(subs)) subs = [subs];
      return subs.map((sub, i) => {
        if (!isSubmission(sub)) sub = new Submission(sub);
        if (sub.values === null || typeof sub.values !== "object" || Array.isArray(sub.values)) {
          throw new TypeError(`bot submission ${i + 1} must be an object of form values or a Submission, not ${JSON.stringify(sub.values)}`);
        }
        return { values: encode(`bot submission ${i + 1}`, sub.values, TypeError), mustFail: sub.mustFail };
      });
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
