// The component's side of the SDK: binds `world` (stoa.js) to the imports of the
// `stoa:game` world. build.mjs writes each game an entry module that exports
// `bind(game)`'s four functions.

import { groupGet, groupSet, playerGet, playerSet } from "stoa:game/fields@0.1.0";
import { liveMethod } from "stoa:game/bot-driver@0.1.0";
import { FieldError, LiveError, world } from "./stoa.js";

// The generated imports throw an Error whose `payload` is the WIT `err` text.
function refused(e, Kind) {
  if (e && typeof e.payload === "string") return new Kind(e.payload);
  return e;
}

const host = {
  groupGet(name) {
    try {
      return groupGet(name);
    } catch (e) {
      throw refused(e, FieldError);
    }
  },
  groupSet(name, value) {
    try {
      groupSet(name, value);
    } catch (e) {
      throw refused(e, FieldError);
    }
  },
  playerGet(idInGroup, name) {
    try {
      return playerGet(idInGroup, name);
    } catch (e) {
      throw refused(e, FieldError);
    }
  },
  playerSet(idInGroup, name, value) {
    try {
      playerSet(idInGroup, name, value);
    } catch (e) {
      throw refused(e, FieldError);
    }
  },
  liveMethod(idInGroup, payload) {
    try {
      return liveMethod(idInGroup, payload);
    } catch (e) {
      throw refused(e, LiveError);
    }
  },
};

/** The world's four exports for `game` (the author's module namespace). */
export function bind(game) {
  return world(game, host);
}
