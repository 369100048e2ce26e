// A survey page in oTree 5's shape: the host renders and checks the form (types, min/max,
// choices, blank); errorMessage sees typed values and adds a rule across fields;
// beforeNextPage stores a summary. No live page.

export const shape = "otree";

export function liveMethod(player, data) {
  throw new Error("the survey has no live page");
}

export const Survey = {
  errorMessage(player, values) {
    if (values.student && values.age > 90) return { age: "Students here are under 90." };
  },
  beforeNextPage(player, timeoutHappened) {
    player.summary = `${player.age}, ${player.field_of_study}, satisfaction ${player.satisfaction}` + (player.student ? ", student" : "");
  },
};

export function botSubmissions(player, botCase) {
  if (player.group.page !== "Survey") return undefined;
  return [
    { values: { age: 17, field_of_study: "economics", satisfaction: 4, student: false }, mustFail: true },
    { values: { age: 95, field_of_study: "economics", satisfaction: 4, student: true }, mustFail: true },
    { values: { age: 30, field_of_study: "art", satisfaction: 4, student: false }, mustFail: true },
    { age: 30, field_of_study: "economics", satisfaction: 4, student: true, comments: null },
  ];
}
