/**
 * `--data-dir`: one offline system per directory. LevelDB locks its own files, but a second
 * dynalite only finds out on its first request, as an uncaught "Database is not open"; this
 * claims the directory up front, with a pid file, so the error can name the path and the owner.
 * A pid file left by a killed run (its process is gone) is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export class DataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirError";
  }
}

const LOCK = "orderflow.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is someone else's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the directory if needed and claims it; returns the release function. */
export function claimDataDir(dir: string): () => void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) throw new DataDirError(`--data-dir ${dir} is not a directory`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new DataDirError(`--data-dir ${dir} cannot be created: ${(err as Error).message}`);
  }
  const file = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => {
        if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new DataDirError(`--data-dir ${dir} is not writable: ${(err as Error).message}`);
      }
      const owner = Number(fs.readFileSync(file, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new DataDirError(`--data-dir ${dir} is in use by another orderflow instance (pid ${owner})`);
      }
      fs.rmSync(file, { force: true }); // Left by a run that was killed.
    }
  }
  throw new DataDirError(`--data-dir ${dir} could not be claimed`);
}
