/** Re-exported for specs: the recording mocks live in program/ because `npm start` uses them too. */
export * from "../../program/mocks";
