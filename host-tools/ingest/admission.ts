// Admission of report requests: a node takes in only as many reports as it can verify soon,
// and leaves the rest of its clients' bytes unread in their sockets (TCP flow control holds
// the senders back) instead of in its heap.
//
// Without this a node under more load than it verifies holds every request it has read: at
// 64 clients posting 100 reports as fast as they are answered, ~6,400 reports waited half a
// second each, so their objects outlived the young generation and were promoted and
// mark-compacted (measured: a major GC every 1.4 s, 27 MB/s promoted), and memory grew with
// the number of clients. With a bound, a request waits before its body is read; the time
// it waits is time it would have waited anyway, inside the node.

/**
 * A signed report is rarely under this many bytes (one pack: ~170, two: ~220), so a body of
 * n bytes counts as n / REPORT_BYTES reports while it is read: at least as many as it holds.
 * A burst of requests arriving together is then held to the bound before any is read.
 */
export const REPORT_BYTES = 128;

/** The reports a body of `contentLength` bytes may hold (1 when the length is not declared). */
export function reportsInBody(contentLength: number | undefined): number {
  return contentLength !== undefined && Number.isFinite(contentLength) && contentLength > 0 ? Math.ceil(contentLength / REPORT_BYTES) : 1;
}

export class Admission {
  /** Reports, as estimated, of the requests let in whose bodies are being read. */
  private reading = 0;
  private readonly waiting: Array<{ reports: number; admit: () => void }> = [];

  /**
   * @param maxReports reports being read, verified, queued or committed at once, beyond
   *   which a request waits; a request is let in whenever fewer are, so at most maxReports
   *   plus one request's reports are.
   * @param inFlight the reports the pipeline holds (ingest.queueDepth()).
   */
  constructor(
    readonly maxReports: number,
    private readonly inFlight: () => number,
  ) {
    if (!Number.isInteger(maxReports) || maxReports < 1) throw new RangeError(`"maxReports" expected an integer >= 1, got ${maxReports}`);
  }

  /** Requests waiting to be let in. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A request of about `reports` reports (reportsInBody) asks to read its body: undefined
   * if it may now, else a promise of that. Once its body is read, call `read(reports)`.
   */
  enter(reports: number): Promise<void> | undefined {
    if (!this.waiting.length && this.open()) {
      this.reading += reports;
      return undefined;
    }
    return new Promise((admit) => this.waiting.push({ reports, admit }));
  }

  /** The body is read (or failed): its reports are counted by `inFlight` now, or never will be. */
  read(reports: number): void {
    this.reading -= reports;
    this.pump();
  }

  /** Something left the pipeline: lets in the next requests while there is room. */
  pump(): void {
    while (this.waiting.length && this.open()) {
      const next = this.waiting.shift()!;
      this.reading += next.reports;
      next.admit();
    }
  }

  private open(): boolean {
    return this.inFlight() + this.reading < this.maxReports;
  }
}
