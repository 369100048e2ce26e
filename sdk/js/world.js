// The component's side of the SDK: binds `world` (stoa.js) to the imports of the
// `stoa:game` world. build.mjs writes each game an entry module that exports `bind(game)`'s
// functions.
//
// The SDK still builds against wit/0.1 (the host does not link 0.2 yet): the imports 0.2
// adds are stand-ins here that refuse, so games can be written against the new API now.

import { groupGet, groupSet, playerGet, playerSet } from "stoa:game/fields@0.1.0";
import { liveMethod } from "stoa:game/bot-driver@0.1.0";
import { FieldError, LiveError, world } from "./stoa.js";

const NEEDS_0_2 = "this component is built for stoa:game@0.1.0, which has no such import (0.2 adds it)";
const missing = () => {
  throw new FieldError(NEEDS_0_2);
};

// The generated imports throw an Error whose `payload` is the WIT `err` text; `refusing`
// rethrows it as the SDK's `Kind`.
function refusing(call, Kind = FieldError) {
  return (...args) => {
    try {
      return call(...args);
    } catch (e) {
      throw e && typeof e.payload === "string" ? new Kind(e.payload) : e;
    }
  };
}

const host = {
  groupGet: refusing(groupGet),
  groupSet: refusing(groupSet),
  playerGet: refusing(playerGet),
  playerSet: refusing(playerSet),
  participantGet: missing,
  participantSet: missing,
  sessionGet: missing,
  sessionSet: missing,
  groupGetInRound: missing,
  playerGetInRound: missing,
  groupSetIn: missing,
  roundGroups: () => [],
  liveMethod: refusing(liveMethod, LiveError),
};

/** The world's exports for `game` (the author's module namespace). */
export function bind(game) {
  return world(game, host);
}
