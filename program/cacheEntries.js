/**
 * Reading and writing the entries of the content-keyed caches under node_modules/.cache (the
 * transpile cache, ./tsCache.js, and the closure parse cache, ./closureParseCache.ts). Plain
 * JavaScript: the transpile cache loads it before any TypeScript hook exists.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/** The entry's text, or undefined on a miss (or an unreadable file: the caller rebuilds it). */
function readEntry(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Stores an entry; a read-only tree still works, uncached. */
function writeEntry(file, text) {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Written aside and renamed, so a concurrent run never reads half an entry.
    const partial = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, text);
    fs.renameSync(partial, file);
  } catch {
    // not stored: the next run rebuilds it
  }
}

module.exports = { readEntry, writeEntry };
