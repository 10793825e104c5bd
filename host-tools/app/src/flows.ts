// The four energy flows in one order and one colour scheme for the whole app (the colours
// are CSS variables of app.css, so the charts and the legends cannot disagree).
export const FLOWS = [
  { key: 'grid_to_pack', label: 'Grid → pack', css: '--grid-to-pack' },
  { key: 'pack_to_grid', label: 'Pack → grid', css: '--pack-to-grid' },
  { key: 'pack_to_motor', label: 'Pack → motor', css: '--pack-to-motor' },
  { key: 'regen_to_pack', label: 'Regen → pack', css: '--regen-to-pack' },
] as const;

export type FlowKey = (typeof FLOWS)[number]['key'];

export function flowColor(css: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(css).trim() || '#888';
}

/**
 * mWh as Wh with three decimals: exact for any integer count of mWh (the reports' unit);
 * the simulator's hub meters are not whole mWh and are rounded to the nearest one.
 */
export function wh(mwh: number): string {
  const neg = mwh < 0;
  const a = Math.round(Math.abs(mwh));
  const s = `${Math.floor(a / 1000)}.${String(a % 1000).padStart(3, '0')}`;
  return neg ? `-${s}` : s;
}

/** ISO date-time without seconds' fraction, UTC, or a dash. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '–';
}

/** Epoch seconds as "YYYY-MM-DD HH:MM UTC". */
export function utc(s: number): string {
  return new Date(s * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** Micro-units (an exact integer, as a number or a decimal string) as units with six decimals. */
export function micro(v: number | string): string {
  const t = String(v);
  const neg = t.startsWith('-');
  const digits = (neg ? t.slice(1) : t).padStart(7, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}
