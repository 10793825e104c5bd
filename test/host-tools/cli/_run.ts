// Shared by the CLI tests that run `deep` in this process through main(argv) (the flash,
// pair and testnet tests spawn the real binary instead, see _emu.ts).

/** Runs main(argv) with stdout/stderr captured; resolves with its exit code and output. */
export async function deep(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    // Loaded dynamically so main.ts, args.ts and the commands are one module graph (uvu's
    // tsx hook compiles the tests as CommonJS; a static import would give args.ts twice and
    // break `instanceof UsageError`).
    const { main } = await import('../../../host-tools/cli/main');
    return { code: await main(argv), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}
