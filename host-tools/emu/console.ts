// The emulated device's console: Espruino's REPL line discipline over a byte stream, so
// a fake serial port (or a pseudo-terminal) behaves like the USB console of a real board
// and the Espruino CLI's upload protocol works against it.
//
// Behaviour follows Espruino's jsinteractive.c (jsiHandleChar / jsiHandleNewLine):
// - characters are echoed while echo is on; Enter (\r, \n, or \r\n once) executes the line
//   when its brackets balance, otherwise the line continues (":" shown);
// - DLE (0x10) at the start of a line turns echo off for that line only: no echo, no
//   "=result", no prompt afterwards unless something printed (the CLI's `\x10print()`
//   trick to remove the prompt relies on this);
// - Ctrl-C (0x03) clears the input line; echo(0)/echo(1) switch echo globally;
// - results print as "=value", then the prompt ">"; output uses \r\n line ends;
// - text printed by the program while a prompt is shown removes the prompt line first
//   and puts it back afterwards.

export interface ConsoleHost {
  /**
   * Evaluates one complete input (may contain newlines) in the device: its value, or the
   * error it threw (printed "Uncaught ..."), or `silent` when there is nothing to print
   * (the host reported the error itself, or the device stopped).
   */
  evaluate(code: string): { value?: unknown; error?: unknown; silent?: boolean };
  /** Formats a result for "=..." the way Espruino prints it. */
  format(value: unknown): string;
}

/** Counts unclosed brackets outside strings, template literals and comments. */
export function bracketDepth(code: string): number {
  let depth = 0;
  let i = 0;
  const n = code.length;
  while (i < n) {
    const c = code[i];
    if (c === '/' && code[i + 1] === '/') {
      while (i < n && code[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      if (end < 0) return depth + 1; // an open comment keeps the line open
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i++;
      while (i < n && code[i] !== c) {
        if (code[i] === '\\') i++;
        else if (c !== '`' && code[i] === '\n') break;
        i++;
      }
      if (i >= n && c === '`') return depth + 1;
      i++;
      continue;
    }
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    i++;
  }
  return depth;
}

export class EspruinoConsole {
  private line = '';
  private echoOn = true;
  private echoOffForLine = false;
  private hadCR = false;
  /** True while the prompt (and input line) is not on screen. */
  private promptRemoved = true;
  private readonly listeners: ((text: string) => void)[] = [];
  private busy = false;
  private pending = '';

  constructor(private readonly host: ConsoleHost) {}

  /** Subscribes to console output (already in \r\n form). */
  onOutput(fn: (text: string) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(text: string): void {
    if (text.length === 0) return;
    for (const l of this.listeners) l(text);
  }

  get echo(): boolean { return this.echoOn; }
  setEcho(on: boolean): void { this.echoOn = on; }

  private showing(): boolean { return this.echoOn && !this.echoOffForLine; }

  /** Program output (console.log, print): removes the prompt line, prints, restores it later. */
  print(text: string): void {
    this.removePrompt();
    this.emit(text.replace(/\r?\n/g, '\r\n'));
    if (!this.busy) this.returnPrompt();
  }

  private removePrompt(): void {
    if (!this.promptRemoved) {
      this.promptRemoved = true;
      if (this.echoOn) this.emit('\r\x1b[J');
    }
  }

  private returnPrompt(): void {
    if (this.promptRemoved) {
      this.promptRemoved = false;
      if (this.echoOn) this.emit('>' + this.line.replace(/\n/g, '\r\n:'));
    }
  }

  /** Shows the first prompt (after boot). */
  start(banner?: string): void {
    if (banner) this.emit(banner.replace(/\r?\n/g, '\r\n'));
    this.promptRemoved = true;
    this.returnPrompt();
  }

  /** Bytes from the host (the user typing, or the CLI uploading). */
  input(data: string | Uint8Array): void {
    const s = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    if (this.busy) {
      // Input while a line executes (its output re-entered us): queue it in order.
      this.pending += s;
      return;
    }
    this.busy = true;
    try {
      let text = s;
      for (;;) {
        for (let i = 0; i < text.length; i++) this.handle(text[i]);
        if (!this.pending) break;
        text = this.pending;
        this.pending = '';
      }
    } finally {
      this.busy = false;
    }
    this.returnPrompt();
  }

  private handle(ch: string): void {
    const code = ch.charCodeAt(0);
    if (ch === '\n' && this.hadCR) {
      this.hadCR = false;
      return;
    }
    this.hadCR = false;
    if (code === 3) {
      // Ctrl-C: drop the input line.
      const had = this.line.length > 0;
      this.line = '';
      this.echoOffForLine = false;
      if (had && this.echoOn) this.emit('\r\n>');
      return;
    }
    if (code === 16) {
      if (this.line.length === 0) this.echoOffForLine = true;
      return;
    }
    if (code === 8 || code === 127) {
      if (this.line.length > 0) {
        this.line = this.line.slice(0, -1);
        if (this.showing()) this.emit('\b \b');
      }
      return;
    }
    if (ch === '\r' || ch === '\n') {
      if (ch === '\r') this.hadCR = true;
      this.newLine();
      return;
    }
    if (code === 0 || code === 27 || (code < 32 && ch !== '\t')) return; // escapes: ignored here
    this.line += ch === '\t' ? '    ' : ch;
    if (this.showing()) this.emit(ch);
  }

  private newLine(): void {
    if (bracketDepth(this.line) > 0) {
      if (this.showing()) this.emit('\r\n:');
      this.line += '\n';
      return;
    }
    const shown = this.showing();
    if (shown) this.emit('\r\n');
    // As in jsiHandleNewLine: with echo on for this line the prompt counts as removed
    // (so it comes back after); with echo off for the line it stays "shown" unless the
    // code prints something.
    if (!this.echoOffForLine) this.promptRemoved = true;
    const code = this.line.replace(/\s+$/, '');
    this.line = '';
    const r = code.length ? this.host.evaluate(code) : { value: undefined };
    if (r.silent) {
      // reported by the host already, or nothing left to answer
    } else if (r.error !== undefined) {
      this.print(formatUncaught(r.error) + '\n');
    } else if (shown && code.length) {
      this.removePrompt();
      this.emit('=' + this.host.format(r.value).replace(/\r?\n/g, '\r\n') + '\r\n');
    }
    this.echoOffForLine = false;
  }
}

/**
 * An exception as Espruino prints it at the top level: "Uncaught " and the thrown value as
 * a string ("Error: msg", the text of a thrown string, "[object Object]", "5").
 */
export function formatUncaught(err: unknown): string {
  let text: string;
  try {
    text = String(err);
  } catch {
    text = Object.prototype.toString.call(err);
  }
  return `Uncaught ${text}`;
}

/** Espruino-like printing of a value for console.log and "=result". */
export function formatValue(v: unknown, quoteStrings: boolean, depth = 0): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return quoteStrings ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return 'function () { [code] }';
  if (depth > 4) return '...';
  if (ArrayBuffer.isView(v)) {
    const name = Object.prototype.toString.call(v).slice(8, -1);
    return `new ${name}([${Array.from(v as unknown as ArrayLike<number>).join(', ')}])`;
  }
  if (Array.isArray(v)) return '[ ' + v.map((x) => formatValue(x, true, depth + 1)).join(', ') + ' ]';
  if (typeof v === 'object') {
    if (v instanceof Error || Object.prototype.toString.call(v) === '[object Error]') return String(v);
    const keys = Object.keys(v as object);
    if (keys.length === 0) return '{ }';
    return '{\n' + keys.map((k) => `  ${JSON.stringify(k).slice(1, -1)}: ${formatValue((v as Record<string, unknown>)[k], true, depth + 1)}`).join(',\n') + '\n }';
  }
  return String(v);
}
