// The device wall clock: getTime()/setTime() and a Date that follows it (1970 at boot
// until setTime or SNTP; ms since 1970 = virtual time + the power-on's offset).
import vm from 'node:vm';

export interface WallClock {
  /** Device wall time in ms since 1970. */
  wallMs(): number;
  setWallMs(ms: number): void;
}

export function makeTime(w: WallClock) {
  return {
    getTime: (): number => w.wallMs() / 1000,
    setTime: (sec: number): void => { w.setWallMs(sec * 1000); },
    // Read by the Date below (installDate); not an Espruino global.
    __emuWallMs: (): number => w.wallMs(),
  };
}

/** Replaces the context's Date by one reading `__emuWallMs` (set makeTime's globals first). */
export function installDate(ctx: vm.Context): void {
  vm.runInContext(
    `(function(){var D=Date,w=__emuWallMs;function ED(a,b,c,d,e,f,g){var n=arguments.length;` +
      `if(!(this instanceof ED))return new D(w()).toString();if(n===0)return new D(w());if(n===1)return new D(a);` +
      `return new D(a,b,c===undefined?1:c,d||0,e||0,f||0,g||0);}ED.now=function(){return w()};ED.UTC=D.UTC;ED.parse=D.parse;` +
      `ED.prototype=D.prototype;Date=ED;})()`,
    ctx,
  );
}
