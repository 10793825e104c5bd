// Flash model for the emulator and the tests: Espruino's `require("Storage")` semantics
// (firmware/hal/flash.ts) over a byte-exact NOR flash image, with power-cut injection.
//
// Layout (like Espruino's jsflash.c, simplified): files are laid out one after another
// from address 0, each as a 32-byte header { size u32 LE, name 28 bytes NUL-padded }
// followed by the data, padded to 4 bytes. An all-0xFF size word ends the list. Erasing a
// file clears the first 4 bytes of its name to 0 (a write, so it can be cut too); its space
// returns only when compact() rewrites the area, which erases pages.
//
// Physics: programming can only clear bits (stored = old AND new); only a page erase sets
// them back to 1. Like Espruino's jsfWriteFile, an offset write is refused (false) unless
// every target byte is still 0xFF, and rewriting a file at offset 0 with the very bytes it
// holds writes nothing. Every programmed byte is counted. A power cut is armed with
// `armCut(n)`: the n-th byte programmed from then on (0 = the next one) is only partially
// programmed (a random subset of the bits it should clear), and from that moment every
// call throws `PowerCutError` until `reboot()`, which models the device coming back with
// whatever the flash holds. compact() is treated as atomic with respect to power cuts (it
// throws before it starts if a cut is armed inside it); this is a known limit of the model,
// stated in the queue's documentation (the real Espruino compaction is not cut-safe either).
//
// Public API
//   new EmuFlash({ size?=262144, pageSize?=4096, file?, rng? })
//   FlashStore methods: read, write, erase, list, getFree, compact
//   armCut(n) / disarm()      inject a power cut at the n-th programmed byte from now
//   dead                      true after a cut until reboot()
//   reboot()                  power back on (the image is kept, the model re-scans)
//   stats                     { writeCalls, eraseCalls, compacts, bytesProgrammed, bytesMoved, pageErases }
//                             (bytesProgrammed: by write/erase, each a possible cut point;
//                             bytesMoved: rewritten by compaction)
//   pageErases                per-page erase counts (wear)
//   image()                   copy of the raw image; loadImage(bytes) replaces it
//   file-backed when `file` is given: loaded at construction, saved after every mutation
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { FlashStore } from '../../firmware/hal/flash';
import { FLASH_NAME_MAX } from '../../firmware/hal/flash';

export class PowerCutError extends Error {
  constructor(what: string) {
    super(`power cut (${what})`);
    this.name = 'PowerCutError';
  }
}

export interface EmuFlashOptions {
  size?: number;
  pageSize?: number;
  file?: string;
  /** Random source in [0,1) for partially programmed bytes (default Math.random). */
  rng?: () => number;
}

export interface EmuFlashStats {
  writeCalls: number;
  eraseCalls: number;
  compacts: number;
  bytesProgrammed: number;
  bytesMoved: number;
  pageErases: number;
}

const HEADER = 32;
const END = 0xffffffff;

interface Entry { addr: number; size: number; name: string; raw: string; live: boolean }

function align4(n: number): number { return (n + 3) & ~3; }

export class EmuFlash implements FlashStore {
  readonly size: number;
  readonly pageSize: number;
  readonly pageErases: Uint32Array;
  stats: EmuFlashStats = { writeCalls: 0, eraseCalls: 0, compacts: 0, bytesProgrammed: 0, bytesMoved: 0, pageErases: 0 };
  dead = false;
  private mem: Uint8Array;
  private cutIn = -1;
  /** Scan result, valid until a header changes (create, erase, compact, cut, new image). */
  private layout?: { entries: Entry[]; end: number };
  private readonly file?: string;
  private readonly rng: () => number;

  constructor(opts: EmuFlashOptions = {}) {
    this.size = opts.size ?? 262144;
    this.pageSize = opts.pageSize ?? 4096;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 64 || (this.pageSize & (this.pageSize - 1)) !== 0) {
      throw new RangeError(`EmuFlash: "pageSize" expected power of two >= 64, got ${opts.pageSize}`);
    }
    if (!Number.isInteger(this.size) || this.size < this.pageSize || this.size % this.pageSize !== 0) {
      throw new RangeError(`EmuFlash: "size" expected a multiple of pageSize ${this.pageSize}, got ${opts.size}`);
    }
    this.rng = opts.rng ?? Math.random;
    this.file = opts.file;
    this.mem = new Uint8Array(this.size).fill(0xff);
    this.pageErases = new Uint32Array(this.size / this.pageSize);
    if (this.file && existsSync(this.file)) {
      const b = readFileSync(this.file);
      if (b.length !== this.size) throw new Error(`EmuFlash: ${this.file} holds ${b.length} bytes, expected ${this.size}`);
      this.mem.set(b);
    }
  }

  // ---- power cuts -------------------------------------------------------------------
  armCut(bytesFromNow: number): void {
    if (!Number.isInteger(bytesFromNow) || bytesFromNow < 0) throw new RangeError(`armCut: expected integer >= 0, got ${bytesFromNow}`);
    this.cutIn = bytesFromNow;
  }
  disarm(): void { this.cutIn = -1; }
  reboot(): void { this.dead = false; this.cutIn = -1; }
  image(): Uint8Array { return this.mem.slice(); }
  loadImage(bytes: Uint8Array): void {
    if (bytes.length !== this.size) throw new RangeError(`loadImage: expected ${this.size} bytes, got ${bytes.length}`);
    this.mem.set(bytes);
    this.layout = undefined;
    this.persist();
  }

  private alive(what: string): void {
    if (this.dead) throw new PowerCutError(`${what} after power loss; call reboot()`);
  }

  /** Programs one byte with NOR semantics; may be where an armed power cut strikes. */
  private program(addr: number, value: number): void {
    if (this.cutIn === 0) {
      // Partially programmed: only some of the bits that should go 1->0 did.
      const mask = Math.floor(this.rng() * 256) & 0xff;
      this.mem[addr] &= (value | mask) & 0xff;
      this.cutIn = -1;
      this.dead = true;
      this.layout = undefined;
      this.stats.bytesProgrammed++;
      this.persist();
      throw new PowerCutError(`while programming byte ${addr}`);
    }
    if (this.cutIn > 0) this.cutIn--;
    this.mem[addr] &= value;
    this.stats.bytesProgrammed++;
  }

  private programBytes(addr: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.program(addr + i, bytes[i]);
  }

  private persist(): void {
    if (this.file) writeFileSync(this.file, this.mem);
  }

  // ---- layout -------------------------------------------------------------------------
  private u32(addr: number): number {
    const m = this.mem;
    return (m[addr] | (m[addr + 1] << 8) | (m[addr + 2] << 16)) + m[addr + 3] * 0x1000000;
  }

  /** Walks the headers; `end` is where the next file would go (or size when corrupt). */
  private scan(): { entries: Entry[]; end: number } {
    if (!this.layout) this.layout = this.scanNow();
    return this.layout;
  }

  private scanNow(): { entries: Entry[]; end: number } {
    const entries: Entry[] = [];
    let addr = 0;
    while (addr + HEADER <= this.size) {
      const size = this.u32(addr);
      if (size === END) {
        // A header that is all 0xFF in its size word but has name bytes programmed is a
        // header torn before its size was written: the space is used (until compact).
        let clean = true;
        for (let i = 4; i < HEADER; i++) if (this.mem[addr + i] !== 0xff) { clean = false; break; }
        return { entries, end: clean ? addr : this.size };
      }
      if (size === 0 || addr + HEADER + size > this.size) return { entries, end: this.size };
      // Like Espruino, a name matches only when all 28 bytes of the field match the
      // NUL-padded name, so a torn name field never matches a real name.
      let raw = '';
      for (let i = 0; i < FLASH_NAME_MAX; i++) raw += String.fromCharCode(this.mem[addr + 4 + i]);
      const nul = raw.indexOf('\0');
      const name = nul < 0 ? raw : raw.slice(0, nul);
      const live = this.mem[addr + 4] !== 0;
      entries.push({ addr, size, name, raw, live });
      addr += HEADER + align4(size);
    }
    return { entries, end: this.size };
  }

  private find(name: string): Entry | undefined {
    const { entries } = this.scan();
    // The newest live file of a name wins (as when Espruino finds a duplicate after a cut).
    const raw = name.padEnd(FLASH_NAME_MAX, '\0');
    let found: Entry | undefined;
    for (const e of entries) if (e.live && e.raw === raw) found = e;
    return found;
  }

  private checkName(name: string, who: string): void {
    if (typeof name !== 'string' || name.length < 1 || name.length > FLASH_NAME_MAX) {
      throw new TypeError(`${who}: "name" expected string of 1..${FLASH_NAME_MAX} chars, got ${JSON.stringify(name)}`);
    }
  }

  // ---- FlashStore -----------------------------------------------------------------------
  read(name: string): Uint8Array | undefined {
    this.alive('read');
    this.checkName(name, 'Storage.read');
    const e = this.find(name);
    if (!e) return undefined;
    return this.mem.slice(e.addr + HEADER, e.addr + HEADER + e.size);
  }

  list(): string[] {
    this.alive('list');
    return this.scan().entries.filter((e) => e.live).map((e) => e.name);
  }

  getFree(): number {
    this.alive('getFree');
    return this.size - this.scan().end;
  }

  write(name: string, data: Uint8Array, offset?: number, size?: number): boolean {
    this.alive('write');
    this.checkName(name, 'Storage.write');
    if (!(data instanceof Uint8Array)) throw new TypeError('Storage.write: "data" expected Uint8Array');
    const off = offset ?? 0;
    if (!Number.isInteger(off) || off < 0) throw new RangeError(`Storage.write: "offset" expected integer >= 0, got ${offset}`);
    this.stats.writeCalls++;
    try {
      if (off > 0) {
        const e = this.find(name);
        if (!e || off + data.length > e.size) return false;
        const at = e.addr + HEADER + off;
        for (let i = 0; i < data.length; i++) if (this.mem[at + i] !== 0xff) return false;
        this.programBytes(at, data);
        return true;
      }
      const fileSize = size === undefined ? data.length : size;
      if (!Number.isInteger(fileSize) || fileSize < data.length || fileSize < 1) {
        throw new RangeError(`Storage.write: "size" expected integer >= data length ${data.length} and >= 1, got ${size}`);
      }
      const old = this.find(name);
      if (old && old.size === fileSize && data.length === fileSize) {
        let same = true;
        for (let i = 0; i < fileSize; i++) if (this.mem[old.addr + HEADER + i] !== data[i]) { same = false; break; }
        if (same) return true;
      }
      if (old) this.eraseEntry(old);
      let end = this.scan().end;
      const need = HEADER + align4(fileSize);
      if (end + need > this.size) {
        this.compactNow();
        end = this.scan().end;
        if (end + need > this.size) return false;
      }
      const header = new Uint8Array(HEADER);
      header[0] = fileSize & 0xff; header[1] = (fileSize >>> 8) & 0xff;
      header[2] = (fileSize >>> 16) & 0xff; header[3] = (fileSize >>> 24) & 0xff;
      for (let i = 0; i < name.length; i++) header[4 + i] = name.charCodeAt(i) & 0xff;
      this.layout = undefined;
      this.programBytes(end, header);
      this.layout = undefined;
      this.programBytes(end + HEADER, data);
      return true;
    } finally {
      this.persist();
    }
  }

  erase(name: string): void {
    this.alive('erase');
    this.checkName(name, 'Storage.erase');
    this.stats.eraseCalls++;
    try {
      const e = this.find(name);
      if (e) this.eraseEntry(e);
    } finally {
      this.persist();
    }
  }

  private eraseEntry(e: Entry): void {
    this.layout = undefined;
    for (let i = 0; i < 4; i++) this.program(e.addr + 4 + i, 0);
    this.layout = undefined;
  }

  compact(): void {
    this.alive('compact');
    try {
      this.compactNow();
    } finally {
      this.persist();
    }
  }

  private compactNow(): void {
    if (this.cutIn >= 0) {
      // Atomic in this model: a cut armed inside compaction strikes before it begins.
      this.cutIn = -1;
      this.dead = true;
      throw new PowerCutError('before compact');
    }
    const { entries, end } = this.scan();
    const keep = entries.filter((e) => e.live).map((e) => this.mem.slice(e.addr, e.addr + HEADER + align4(e.size)));
    const used = Math.min(this.size, Math.ceil(end / this.pageSize) * this.pageSize);
    for (let p = 0; p < used / this.pageSize; p++) {
      let erased = true;
      for (let i = p * this.pageSize; i < (p + 1) * this.pageSize; i++) if (this.mem[i] !== 0xff) { erased = false; break; }
      if (!erased) {
        this.mem.fill(0xff, p * this.pageSize, (p + 1) * this.pageSize);
        this.pageErases[p]++;
        this.stats.pageErases++;
      }
    }
    let addr = 0;
    for (const k of keep) {
      this.mem.set(k, addr);
      this.stats.bytesMoved += k.length;
      addr += k.length;
    }
    this.stats.compacts++;
    this.layout = undefined;
  }
}
