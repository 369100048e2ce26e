// The component's side of the SDK: binds `world` (stoa.js) to the imports of the
// `stoa:game` world. build.mjs writes each game an entry module that exports `bind(game)`'s
// functions.

import {
  groupGet,
  groupGetInRound,
  groupSet,
  groupSetIn,
  participantGet,
  participantSet,
  playerGet,
  playerGetInRound,
  playerSet,
  roundGroups,
  sessionGet,
  sessionSet,
} from "stoa:game/fields@0.2.0";
import { liveMethod } from "stoa:game/bot-driver@0.2.0";
import { FieldError, LiveError, world } from "./stoa.js";

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
  participantGet: refusing(participantGet),
  participantSet: refusing(participantSet),
  sessionGet: refusing(sessionGet),
  sessionSet: refusing(sessionSet),
  groupGetInRound: refusing(groupGetInRound),
  playerGetInRound: refusing(playerGetInRound),
  groupSetIn: refusing(groupSetIn),
  roundGroups: () => roundGroups(),
  liveMethod: refusing(liveMethod, LiveError),
};

/** The world's exports for `game` (the author's module namespace). */
export function bind(game) {
  return world(game, host);
}
