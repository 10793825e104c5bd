// The part of better-sqlite3's API the ingest store uses (the package ships no types and
// @types/better-sqlite3 is not a dependency).
declare module 'better-sqlite3' {
  namespace Database {
    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }
    interface Statement {
      run(...params: unknown[]): RunResult;
      get(...params: unknown[]): unknown;
      all(...params: unknown[]): unknown[];
    }
    interface Database {
      prepare(sql: string): Statement;
      exec(sql: string): this;
      pragma(sql: string, opts?: { simple?: boolean }): unknown;
      transaction<F extends (...args: never[]) => unknown>(fn: F): F;
      close(): this;
    }
  }
  const Database: {
    /** timeout: ms to wait on a locked database before SQLITE_BUSY (better-sqlite3 default 5000). */
    new (file: string, opts?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }): Database.Database;
  };
  export default Database;
}
