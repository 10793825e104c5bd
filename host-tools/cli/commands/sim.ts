import { readFileSync } from 'node:fs';
import { parseArgs, intOption, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { createSimBike, randomRide, validateRide, rideDurationS, type SimBike, type Segment } from '../../sim/index';
import { serveTcp, servePty, runRealtime, type Endpoint } from '../../sim/transport';

function line(bike: SimBike): string {
  const s = bike.state();
  const l = bike.ledger();
  const t = Math.floor(s.tMs / 1000);
  const hms = `${String(Math.floor(t / 3600)).padStart(2, '0')}:${String(Math.floor(t / 60) % 60).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
  const packs = s.packs
    .map((p, i) => {
      const f = l.packs[i].flows;
      const wh = (x: number): string => (x / 1000).toFixed(1);
      return `bms${p.canId} ${(p.soc * 100).toFixed(1)}% ${(p.voltageMv / 1000).toFixed(2)}V ${(p.currentMa / 1000).toFixed(2)}A` +
        ` [grid>pack ${wh(f.gridToPack.mwh)} pack>grid ${wh(f.packToGrid.mwh)} pack>motor ${wh(f.packToMotor.mwh)} regen ${wh(f.regenToPack.mwh)} Wh]`;
    })
    .join('  ');
  return `${hms} ${s.activity}${s.hub ? '@' + s.hub : ''} ${s.speedKmh.toFixed(1)}km/h  ${packs}`;
}

const command: Command = {
  name: 'sim',
  summary: 'run a simulated e-bike (VESC + two BMS) in real time, its VESC UART on a TCP port or a pseudo-terminal',
  usage: 'deep sim (--tcp PORT | --pty) [--seed N] [--ride FILE.json] [--speedup X] [--duration S] [--skip S]',
  options: {
    tcp: { type: 'string', description: 'serve the VESC UART on 127.0.0.1:PORT (0 = any free port)' },
    pty: { type: 'boolean', description: 'serve the VESC UART on a new pseudo-terminal (needs python3)' },
    seed: { type: 'string', description: 'seed of the random ride and of every other random choice', default: '1' },
    ride: { type: 'string', description: 'a JSON file with a ride script (array of segments, see host-tools/sim/README.md)' },
    speedup: { type: 'string', description: 'simulated seconds per real second', default: '1' },
    duration: { type: 'string', description: 'stop after this many simulated seconds (default: the end of the ride)' },
    skip: { type: 'string', description: 'fast-forward this many simulated seconds before serving (default: the night parked at the start of a random ride)' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const tcp = intOption(p, 'tcp', 0, 65535);
    if ((tcp === undefined) === !p.options.pty) throw new UsageError('give exactly one of --tcp PORT or --pty');
    const seed = intOption(p, 'seed', 0, 0xffffffff) as number;
    const speedup = Number(p.options.speedup);
    if (!(speedup > 0 && speedup <= 100000)) throw new UsageError(`--speedup expected a number in (0, 100000], got ${JSON.stringify(p.options.speedup)}`);
    let ride: Segment[];
    if (typeof p.options.ride === 'string') {
      // A ride file that cannot be read, parsed or validated is a file error (exit 3).
      const file = p.options.ride;
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
        ride = validateRide(raw);
      } catch (err) {
        throw new Error(`--ride ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else ride = randomRide({ seed });
    const durationS = intOption(p, 'duration', 1, 365 * 86400) ?? rideDurationS(ride);

    const first = ride[0];
    const skipS = intOption(p, 'skip', 0, 365 * 86400) ?? (typeof p.options.ride !== 'string' && first && first.kind === 'park' ? first.durationS : 0);
    const bike = createSimBike({ seed, ride });
    bike.advance(skipS * 1000);
    const ep: Endpoint = tcp !== undefined ? await serveTcp(bike, tcp) : await servePty(bike);
    process.stdout.write(`deep sim: seed ${seed}, ${ride.length} segments, ${durationS} s simulated at ×${speedup}${skipS ? `, starting at ${skipS} s` : ''}\n`);
    process.stdout.write(`VESC UART (115200 baud, VESC packets) on ${ep.where}\n`);
    process.stdout.write(`BMS CAN ids ${bike.state().packs.map((x) => x.canId).join(', ')} (reach them with COMM_FORWARD_CAN); VESC CAN id 1\n`);
    process.stdout.write(line(bike) + '\n');
    return await new Promise<number>((resolve) => {
      let stopped = false;
      const onSignal = (): void => void stop(EXIT.OK);
      const stop = async (code: number): Promise<void> => {
        if (stopped) return;
        stopped = true;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        rt.stop();
        await ep.close();
        if (bike.nowMs() % 60_000 !== 0) process.stdout.write(line(bike) + '\n');
        resolve(code);
      };
      const rt = runRealtime(bike, {
        speedup,
        markMs: 60_000,
        onMark: () => process.stdout.write(line(bike) + '\n'),
        endMs: durationS * 1000,
        onEnd: () => void stop(EXIT.OK),
      });
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
  },
};
export default command;
