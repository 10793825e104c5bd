// Riders' policies kept by the ingest node: one JSON file beside its database, rewritten
// whole on each change (write to a temporary file, fsync, rename: a crash leaves the old
// file or the new one, never half of one). A few hundred bytes per bike; the node's
// SQLite store is left alone (it is being reworked separately).
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { validatePolicy, DEFAULT_POLICY, type RiderPolicy } from './policy';

export interface PolicyAnswer {
  device: string;
  /** false: the rider set nothing and the defaults apply. */
  set: boolean;
  policy: RiderPolicy;
}

export interface PolicyStore {
  get(device: string): PolicyAnswer;
  /** Merges `partial` into the device's policy; throws a PolicyError naming the field. */
  set(device: string, partial: unknown): PolicyAnswer;
}

export function openPolicyFile(file: string): PolicyStore {
  let all: Record<string, RiderPolicy> = {};
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the policy file ${file}: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    let j: unknown;
    try {
      j = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: not JSON (${(e as Error).message}); fix or remove it, nothing was changed`);
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error(`${file}: expected an object of policies by device id`);
    for (const [id, p] of Object.entries(j)) {
      try {
        all[id] = validatePolicy(p);
      } catch (e) {
        throw new Error(`${file}: device ${id}: ${(e as Error).message}`);
      }
    }
  }
  const save = (next: Record<string, RiderPolicy>) => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n');
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  };
  return {
    get: (device) => ({ device, set: all[device] !== undefined, policy: all[device] ?? { ...DEFAULT_POLICY } }),
    set(device, partial) {
      const policy = validatePolicy(partial, all[device] ?? DEFAULT_POLICY);
      const next = { ...all, [device]: policy };
      save(next);
      all = next;
      return { device, set: true, policy };
    },
  };
}

/** Policies in memory only (tests, and nodes started without a database file). */
export function memoryPolicies(): PolicyStore {
  const all: Record<string, RiderPolicy> = {};
  return {
    get: (device) => ({ device, set: all[device] !== undefined, policy: all[device] ?? { ...DEFAULT_POLICY } }),
    set(device, partial) {
      all[device] = validatePolicy(partial, all[device] ?? DEFAULT_POLICY);
      return { device, set: true, policy: all[device] };
    },
  };
}
