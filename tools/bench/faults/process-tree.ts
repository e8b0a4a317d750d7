import { readdirSync, readFileSync } from 'node:fs';

/**
 * Freezing a component the way a stalled VM, a long GC pause or a full disk freezes it: SIGSTOP to
 * every process of it, SIGCONT later. Signalling the process group is not enough: PostgreSQL's
 * backends leave their parent's group (setsid), and they are what serves the open connections.
 * So a component is its root process and every descendant by parent pid, read from /proc.
 */

interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  /** Field 3 of /proc/<pid>/stat: R, S, D, T (stopped), Z ... */
  state: string;
}

function readEntry(pid: number): ProcEntry | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcEntry[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readEntry(Number(name)))
    .filter((e): e is ProcEntry => e !== undefined);
}

/** `root` and every live descendant of it, plus anything left in its process group. */
export function processTree(root: number): number[] {
  const entries = allProcesses();
  const children = new Map<number, number[]>();
  for (const e of entries) children.set(e.ppid, [...(children.get(e.ppid) ?? []), e.pid]);
  const found = new Set<number>();
  const visit = (pid: number) => {
    if (found.has(pid)) return;
    found.add(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  if (entries.some((e) => e.pid === root)) visit(root);
  for (const e of entries) if (e.pgrp === root && e.state !== 'Z') found.add(e.pid);
  return [...found];
}

/** Scheduler state of a process (`T` = stopped), or undefined once it is gone. */
export function processState(pid: number): string | undefined {
  return readEntry(pid)?.state;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone meanwhile: nothing left to freeze or thaw.
  }
}

// Every process this tool has frozen and not thawed yet, so an exit of any kind thaws them: a
// frozen PostgreSQL left behind would hold its port and data dir until someone SIGKILLs it.
const frozen = new Set<number>();
process.once('exit', () => {
  for (const pid of frozen) signal(pid, 'SIGCONT');
});

export interface Frozen {
  readonly pids: readonly number[];
  thaw(): void;
}

/**
 * Stops the root first (so it cannot fork while we look), then every descendant, scanning again
 * until no new process shows up, and returns once the kernel shows each of them stopped (a signal
 * takes effect when its target next runs, which on a busy machine is not at once).
 */
export async function freezeTree(root: number): Promise<Frozen> {
  const stopped: number[] = [];
  for (let pass = 0; pass < 5; pass++) {
    const fresh = processTree(root).filter((pid) => !stopped.includes(pid));
    if (fresh.length === 0) break;
    // The root first: a stopped parent forks nothing new.
    fresh.sort((a, b) => (a === root ? -1 : b === root ? 1 : 0));
    for (const pid of fresh) {
      signal(pid, 'SIGSTOP');
      frozen.add(pid);
      stopped.push(pid);
    }
  }
  const deadline = Date.now() + 5_000;
  while (stopped.some((pid) => !['T', undefined].includes(processState(pid))) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  let thawed = false;
  return {
    pids: stopped,
    thaw() {
      if (thawed) return;
      thawed = true;
      // Children before the root, so the root never sees a child that is still stopped.
      for (const pid of [...stopped].reverse()) {
        signal(pid, 'SIGCONT');
        frozen.delete(pid);
      }
    },
  };
}
